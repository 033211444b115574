// Alta affidabilità: this node's HA status (both nodes, the cluster, the
// resource) with the actions the node offers in its role, each confirmed with
// what it will do, and the configuration form of this node ("Salva e avvia il
// servizio"). Each node has its own settings: the page always shows the node
// the browser is connected to.
"use strict";

import { h, v, mono, tag, t, has, api, S, canWrite, form, register, flash, confirmDialog, message, section, kv, busy, errorMessage, fmtTime } from "../core/kit.js";

// How often the status page reads the status again while it is shown.
const REFRESH_MS = 2000;

register({
  id: "ha", path: "ha", group: "system", order: 40, nav: "ha.nav",
  // The admin, or the tenant admin of a single-tenant box.
  visible: () => S.me.role === "admin" || S.me.role === "auditor" || (S.me.role === "tenant_admin" && S.status.tenancy_mode === "single"),
  pages: async () => ["ha/config"],
  render: (ctx) => (ctx.path[0] === "config" ? configPage(ctx) : statusPage(ctx)),
});

// The words for the API's values (a role, a state), or the value itself, as
// data, when the catalog has none.
const roleLabel = (x) => (has(`ha.role.${x}`) ? t(`ha.role.${x}`) : v(x || ""));
const stateLabel = (x) => (has(`ha.state.${x}`) ? t(`ha.state.${x}`) : v(x || ""));
const pairingLabel = (x) => (has(`ha.pairing.${x}`) ? t(`ha.pairing.${x}`) : v(x || ""));
const serviceLabel = (x) => (has(`ha.service.${x}`) ? t(`ha.service.${x}`) : v(x || ""));

function stateTag(st) {
  const kind = { active: "good", standby: "good", degraded: "warn", standalone: "warn", failed: "bad", down: "bad" }[st.service_state] || "";
  return h("span", { class: "tag " + kind, id: "ha-service-state", "data-state": st.service_state }, serviceLabel(st.service_state));
}

// peerSerial is the remote node's serial (heard, or as configured).
function peerSerial(st) { return (st.peer && st.peer.serial) || ""; }

function nodesTable(st) {
  const row = (id, which, serial, ip, role) => h("tr", { id, "data-serial": serial },
    h("th", { scope: "row" }, which), h("td", {}, mono(serial)), h("td", {}, mono(ip)), h("td", {}, role));
  const peer = st.peer || {};
  return h("table", { class: "list", id: "ha-nodes" },
    h("thead", {}, h("tr", {}, h("th", {}, t("ha.node")), h("th", {}, t("ha.serial")), h("th", {}, t("ha.sync_ip")), h("th", {}, t("ha.role")))),
    h("tbody", {},
      row("ha-node-local", t("ha.this_node"), st.serial, st.sync_ip, roleLabel(st.role)),
      st.peer ? row("ha-node-remote", t("ha.remote_node"), peer.serial, peer.sync_ip,
        peer.role ? roleLabel(peer.role) : t("ha.not_heard")) : null));
}

function heartbeat(st) {
  if (!st.paths || !st.paths.length) return t("ha.no_heartbeat");
  return h("ul", { class: "plain", id: "ha-heartbeat" }, st.paths.map((p) => h("li", { "data-path": p.name },
    p.last_seen ? t("ha.path_seen", { path: t("ha.path." + p.name), rtt: p.rtt_ms, at: fmtTime(p.last_seen) })
      : t("ha.path_never", { path: t("ha.path." + p.name) }))));
}

function statusSections(st) {
  const peerAlive = st.peer && st.peer.alive;
  return [
    st.error ? message("error", h("strong", {}, t("ha.failed")), h("span", { class: "detail" }, v(st.error))) : null,
    section(t("ha.sec.nodes"), nodesTable(st)),
    section(t("ha.sec.cluster"), kv([
      [t("ha.enabled"), h("span", { id: "ha-enabled" }, st.enabled ? t("core.yes") : t("core.no"))],
      [t("ha.state"), stateLabel(st.state)],
      [t("ha.pairing"), h("span", { id: "ha-pairing", "data-pairing": st.pairing }, pairingLabel(st.pairing))],
      [t("ha.service_state"), stateTag(st)],
      [t("ha.peer_heard"), st.peer ? (peerAlive ? tag(t("core.yes"), "good") : tag(t("core.no"), "bad")) : t("ha.no_peer")],
      [t("ha.heartbeat"), heartbeat(st)],
      [t("ha.replication_lag"), t("ha.revisions", { n: st.replication_lag || 0 })],
    ], "ha-cluster")),
    section(t("ha.sec.resources"), kv([
      [t("ha.active_node"), h("span", { id: "ha-active-node", "data-serial": st.active_node || "" },
        st.active_node ? mono(st.active_node) : t("ha.no_active"))],
      [t("ha.resource_ip"), (st.resource || []).length ? mono((st.resource || []).join(", ")) : t("ha.none")],
    ], "ha-resources")),
  ];
}

// ACTIONS: the buttons, in the order shown, with what each confirms.
const ACTIONS = {
  pair: { button: "ha.act.pair", confirm: "ha.confirm.pair", danger: false },
  switch: { button: "ha.act.switch", confirm: "ha.confirm.switch", danger: false },
  takeover: { button: "ha.act.switch", confirm: "ha.confirm.takeover", danger: false },
  unpair: { button: "ha.act.unpair", confirm: "ha.confirm.unpair", danger: true },
  "unpair-passive": { button: "ha.act.unpair_passive", confirm: "ha.confirm.unpair_passive", danger: true },
  disable: { button: "ha.act.disable", confirm: "ha.confirm.disable", danger: true },
};

async function statusPage(ctx) {
  let st = await api("GET", "/ha");
  const box = h("div", { id: "ha-status" });
  const note = h("div", { id: "ha-note", "aria-live": "polite" });
  const bar = h("div", { class: "buttons", id: "ha-actions" });
  const draw = () => {
    box.replaceChildren(...statusSections(st).filter(Boolean));
    bar.replaceChildren(...(canWrite() ? (st.actions || []) : []).map((a) => {
      const spec = ACTIONS[a];
      if (!spec) return null;
      const b = h("button", { type: "button", id: "ha-act-" + a, class: spec.danger ? "danger" : "" }, t(spec.button));
      b.addEventListener("click", () => act(a, b));
      return b;
    }), h("a", { href: "#/ha/config", id: "ha-configure" }, t("ha.configure")));
  };
  const act = async (a, b) => {
    const spec = ACTIONS[a];
    const args = { local: st.serial, peer: peerSerial(st) || t("ha.remote_node"), resource: (st.resource || []).join(", ") || t("ha.none") };
    const ok = await confirmDialog({ title: t(spec.button), body: h("p", { id: "ha-confirm-text" }, t(spec.confirm, args)),
      confirm: t(spec.button), danger: spec.danger });
    if (!ok) return;
    note.replaceChildren(message("info", t("ha.working")));
    await busy(b, async () => {
      try {
        const r = await api("POST", "/ha/" + a, {});
        st = r.status;
        note.replaceChildren(message("ok", t("ha.done." + a.replace("-", "_"))));
        draw();
      } catch (err) {
        note.replaceChildren(errorMessage(err));
      }
    });
  };
  draw();
  ctx.show(t("ha.nav"), !canWrite() ? message("info", t("core.read_only")) : null, note, bar, box);
  // Read the status again while the page is shown: a switch, a peer lost or
  // back shows without a reload.
  const timer = setInterval(async () => {
    if (ctx.stale() || !document.body.contains(box)) { clearInterval(timer); return; }
    try {
      const next = await api("GET", "/ha");
      if (ctx.stale()) return;
      if (JSON.stringify(next) !== JSON.stringify(st)) {
        st = next;
        draw();
      }
    } catch (err) { /* shown at the next successful read */ }
  }, REFRESH_MS);
}

// addrsOf lists the addresses of an interface, as select options.
function addrsOf(ifs, name, current) {
  const ifc = ifs.find((x) => x.name === name);
  const list = ifc ? ifc.addrs.slice() : [];
  if (current && !list.includes(current)) list.unshift(current);
  return list.map((a) => ({ value: a, label: a, data: true }));
}

const split = (s) => String(s || "").split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

async function configPage(ctx) {
  const c = await api("GET", "/ha/config");
  const set = c.settings;
  const ifs = c.interfaces || [];
  const ifOptions = (none) => [...(none ? [{ value: "", label: t("ha.no_sync_interface") }] : [{ value: "", label: t("core.choose") }]),
    ...[...new Set([...ifs.map((x) => x.name), set.interface, set.sync_interface].filter(Boolean))].map((n) => ({ value: n, label: n, data: true }))];
  const on = (x) => x.state !== "disabled";
  const ms = (name, label, help) => ({ name, label, help, type: "number", show: on, required: true, attrs: { min: 1, step: 1 },
    validate: (x) => (x > 0 ? "" : t("ha.err.positive")) });
  const f = form({
    id: "ha-form",
    readOnly: !canWrite(),
    submit: t("ha.save_and_start"),
    values: Object.assign({}, set, { resource_ip: (set.resource_ip || []).join(", "), ping_group: (set.ping_group || []).join(", ") }),
    fields: [
      { section: t("ha.sec.main") },
      { name: "state", label: t("ha.state"), type: "select", options: [
        { value: "disabled", label: t("ha.state.disabled") }, { value: "enabled", label: t("ha.state.enabled") },
        { value: "coordinator", label: t("ha.state.coordinator") }] },
      { name: "remote_serial", label: t("ha.remote_serial"), show: on, help: t("ha.remote_serial_help"), attrs: { maxlength: 64 },
        validate: (x, all) => (all.state === "coordinator" && !x.trim() ? t("ha.err.remote_serial") : "") },
      { name: "default_active", label: t("ha.default_active"), type: "checkbox", show: on, help: t("ha.default_active_help") },
      { section: t("ha.sec.network") },
      { name: "interface", label: t("ha.interface"), type: "select", show: on, required: true, options: () => ifOptions(false) },
      { name: "local_ip", label: t("ha.local_ip"), type: "select", show: on, required: true,
        options: (x) => [{ value: "", label: t("core.choose") }, ...addrsOf(ifs, x.interface, set.local_ip)] },
      { name: "remote_ip", label: t("ha.remote_ip"), show: on, required: true },
      { name: "resource_ip", label: t("ha.resource_ip"), show: on, required: true, wide: true, help: t("ha.resource_ip_help"),
        validate: (x) => (split(x).every((a) => /\/\d{1,3}$/.test(a)) ? "" : t("ha.err.cidr")) },
      { name: "ping_group", label: t("ha.ping_group"), show: on, wide: true, help: t("ha.ping_group_help") },
      { section: t("ha.sec.sync") },
      { name: "sync_interface", label: t("ha.sync_interface"), type: "select", show: on, options: () => ifOptions(true), help: t("ha.sync_interface_help") },
      { name: "sync_local_ip", label: t("ha.sync_local_ip"), type: "select", required: true, show: (x) => on(x) && !!x.sync_interface,
        options: (x) => [{ value: "", label: t("core.choose") }, ...addrsOf(ifs, x.sync_interface, set.sync_local_ip)] },
      { name: "sync_remote_ip", label: t("ha.sync_remote_ip"), required: true, show: (x) => on(x) && !!x.sync_interface },
      { section: t("ha.sec.timers") },
      ms("keepalive_ms", t("ha.keepalive"), t("ha.keepalive_help")),
      ms("warning_ms", t("ha.warning"), t("ha.warning_help")),
      ms("dead_ms", t("ha.dead"), t("ha.dead_help")),
      ms("init_ms", t("ha.init"), t("ha.init_help")),
    ],
    onSubmit: async (vals) => {
      const body = Object.assign({}, set, vals, { resource_ip: split(vals.resource_ip), ping_group: split(vals.ping_group) });
      if (!body.sync_interface) { body.sync_local_ip = ""; body.sync_remote_ip = ""; }
      const ok = await confirmDialog({ title: t("ha.save_and_start"),
        body: h("p", { id: "ha-confirm-text" }, body.state === "disabled" ? t("ha.confirm.save_disabled", { local: c.serial })
          : t("ha.confirm.save", { local: c.serial, state: t("ha.state." + body.state) })),
        confirm: t("ha.save_and_start") });
      if (!ok) return;
      await api("PUT", "/ha/config", body);
      flash("ok", t("ha.saved"));
      ctx.go("#/ha");
    },
  });
  ctx.show(t("ha.config_title"),
    h("a", { href: "#/ha", class: "back", id: "ha-back" }, t("ha.back_to_status")),
    !canWrite() ? message("info", t("core.read_only")) : null,
    section(null, kv([
      [t("ha.this_serial"), mono(c.serial)],
      [t("ha.source"), h("span", { id: "ha-source" }, c.saved ? t("ha.source.saved") : t("ha.source.file"))],
    ], "ha-node")),
    message("info", t("ha.per_node")),
    f.el);
}
