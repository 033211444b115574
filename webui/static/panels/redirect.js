// Lista dei redirection server: the tenant's accounts at the vendors' phone
// redirection services (Snom SRAPS, Yealink RPS/YMCS, Escene, Fanvil FDPS,
// Gigaset). Credentials are write-only; "Test" checks them with the vendor;
// each server shows its devices and whether each is registered there.
"use strict";

import {
  h, v, mono, tag, time, t, api, tbase, canWrite, feature, form, choose, table, register, flash, confirmDialog,
  message, section, busy, kv,
} from "../core/kit.js";

const APIS = { snom: ["sraps", "xmlrpc"], yealink: ["xmlrpc", "ymcs"], escene: ["xmlrpc"], fanvil: ["fdps"], gigaset: ["autoprov"] };
const BRAND_NAMES = { snom: "Snom", yealink: "Yealink", escene: "Escene", fanvil: "Fanvil", gigaset: "Gigaset" };

register({
  id: "redirect", path: "redirect", group: "provisioning", order: 70, nav: "redirect.nav",
  visible: () => feature("redirect"),
  pages: async () => {
    const r = await api("GET", tbase() + "/redirect-servers");
    return ["redirect/new", ...(r.items || []).slice(0, 1).map((s) => "redirect/" + s.id)];
  },
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

function statusTag(st) {
  if (!st) return tag(t("redirect.status.none"), "");
  if (st.provisioned) return tag(t("redirect.status.provisioned"), "good");
  if (st.error) return h("span", { class: "tag bad", "data-v": "", title: st.detail || "" }, st.error);
  return tag(t("redirect.status.pending"), "");
}

async function listPage(ctx) {
  const res = await api("GET", tbase() + "/redirect-servers");
  const list = table({
    id: "redirect-servers",
    caption: t("redirect.nav"),
    columns: [
      { id: "name", label: t("core.name"), value: (s) => s.name },
      { id: "brand", label: t("redirect.brand"), value: (s) => BRAND_NAMES[s.brand] || s.brand },
      { id: "api", label: t("redirect.api"), value: (s) => t("redirect.api." + s.api) },
      { id: "enabled", label: t("redirect.state"), value: (s) => (s.enabled ? tag(t("core.enabled"), "good") : tag(t("core.disabled"), "")) },
      { id: "url", label: t("redirect.provisioning_url"), value: (s) => mono(s.effective_provisioning_url) },
      { id: "devices", label: t("redirect.devices"), value: (s) => t("redirect.devices_count", { n: s.devices, provisioned: s.devices_provisioned }) },
    ],
    rows: res.items || [],
    attrs: (s) => ({ "data-name": s.name, "data-id": s.id }),
    onOpen: (s) => ctx.go(["redirect", s.id]),
    empty: t("redirect.empty"),
  });
  ctx.show(t("redirect.nav"), h("p", { class: "muted" }, t("redirect.intro")),
    h("div", { class: "toolbar" }, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/redirect/new", class: "button", id: "add-redirect", role: "button" }, t("redirect.add")) : null),
    list);
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const [s, statuses] = await Promise.all([
    isNew ? Promise.resolve({ enabled: true, brand: "", api: "" }) : api("GET", tbase() + "/redirect-servers/" + encodeURIComponent(id)),
    isNew ? Promise.resolve({ items: [] }) : api("GET", tbase() + "/redirect-status")]);
  const testBox = h("div", { id: "redirect-test" });
  const ro = !canWrite();
  const f = form({
    id: "redirect-form",
    readOnly: ro,
    values: Object.assign({}, s, { username: "", password: "" }),
    fields: [
      { section: t("redirect.sec.server") },
      { name: "name", label: t("core.name"), required: true, attrs: { maxlength: 64 } },
      { name: "enabled", label: t("redirect.enabled"), type: "checkbox", help: t("redirect.enabled_help") },
      { name: "brand", label: t("redirect.brand"), type: "select", required: true,
        options: [choose(), ...Object.keys(APIS).map((b) => ({ value: b, label: BRAND_NAMES[b], data: true }))] },
      { name: "api", label: t("redirect.api"), type: "select", required: true,
        options: (x) => (APIS[x.brand] || []).map((a) => ({ value: a, label: t("redirect.api." + a) })) },
      { name: "server_name", label: t("redirect.server_name"), help: t("redirect.server_name_help"),
        show: (x) => x.brand === "yealink" || x.brand === "escene" || x.brand === "gigaset",
        required: false, validate: (val, x) => (x.api === "xmlrpc" && (x.brand === "yealink" || x.brand === "escene") && !val ? t("redirect.err.server_name") : "") },
      { name: "provisioning_url", label: t("redirect.provisioning_url"), type: "url", wide: true,
        help: isNew ? t("redirect.provisioning_url_help") : t("redirect.provisioning_url_now", { url: s.effective_provisioning_url }) },
      { name: "base_url", label: t("redirect.base_url"), type: "url", wide: true, help: t("redirect.base_url_help"),
        validate: (val, x) => (x.brand === "escene" && !val ? t("redirect.err.base_url") : "") },
      { name: "override", label: t("redirect.override"), type: "checkbox", show: (x) => x.brand === "yealink", help: t("redirect.override_help") },
      { section: t("redirect.sec.credentials") },
      { name: "username", label: t("redirect.username"), omitEmpty: true, attrs: { autocomplete: "off" },
        help: s.has_credentials ? t("redirect.credentials_kept") : t("redirect.credentials_help"), required: isNew },
      { name: "password", label: t("redirect.password"), type: "password", omitEmpty: true, attrs: { autocomplete: "new-password" }, required: isNew },
    ],
    buttons: [
      !isNew && !ro ? h("button", { type: "button", class: "secondary", id: "redirect-test-btn", onclick: (ev) => busy(ev.currentTarget, async () => {
        try {
          const r = await api("POST", tbase() + "/redirect-servers/" + encodeURIComponent(id) + "/test");
          testBox.replaceChildren(r.ok ? message("ok", t("redirect.test_ok"))
            : message("error", h("strong", {}, t("redirect.test_failed")), h("span", { class: "detail" }, v(r.error)), r.detail ? h("span", { class: "detail" }, v(r.detail)) : null));
        } catch (err) { f.showError(err); }
      }) }, t("redirect.test")) : null,
      !isNew && !ro ? h("button", { type: "button", class: "danger", id: "redirect-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/redirect", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      if (vals.brand !== "yealink") delete vals.override;
      const saved = await api(isNew ? "POST" : "PATCH", tbase() + "/redirect-servers" + (isNew ? "" : "/" + encodeURIComponent(id)), vals);
      flash("ok", t("redirect.saved", { name: saved.name }));
      ctx.go(["redirect"], {});
    },
  });
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("redirect.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("redirect.delete_body", { name: s.name })) });
    if (!ok) return;
    try {
      await api("DELETE", tbase() + "/redirect-servers/" + encodeURIComponent(id));
      flash("ok", t("redirect.deleted", { name: s.name }));
      ctx.go(["redirect"], {});
    } catch (err) { f.showError(err); }
  };
  const mine = (statuses.items || []).filter((x) => x.status && x.status.server === id);
  const devices = isNew ? null : section(t("redirect.devices"), table({
    id: "redirect-devices",
    columns: [
      { id: "mac", label: t("redirect.mac"), value: (x) => mono(x.mac) },
      { id: "status", label: t("redirect.status"), value: (x) => statusTag(x.status) },
      { id: "last", label: t("redirect.last_attempt"), value: (x) => time(x.status.last_attempt) },
      { id: "next", label: t("redirect.next_attempt"), value: (x) => time(x.status.next_attempt) },
    ],
    rows: mine,
    attrs: (x) => ({ "data-mac": x.mac }),
    onOpen: (x) => ctx.go(["devices", x.device]),
    empty: t("redirect.no_devices"),
  }));
  ctx.show(isNew ? t("redirect.new_title") : t("redirect.edit_title", { name: s.name }),
    ro ? message("info", t("core.read_only")) : null, testBox, f.el, devices);
}
