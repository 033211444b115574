// Lista dei dispositivi: the tenant's phones, searched and paged by the server
// (a tenant may have ten thousand), and the device form with every field.
"use strict";

import {
  h, v, mono, time, tag, t, api, tbase, canWrite, feature, q, S, form, choose, table, pager, searchBox,
  register, flash, confirmDialog, errorMessage, message, section, busy, download, debounce,
  getFirst, devicePagePath, DEVICE_PAGE,
} from "../core/kit.js";
import { catalog, brandOptions, accountLabel } from "./shared/catalog.js";
import { deviceButtons, tenantButtons } from "./shared/resync.js";
import { revealButton } from "./shared/reveal.js";

const PAGE = DEVICE_PAGE;

register({
  id: "devices", path: "devices", group: "provisioning", order: 10, nav: "devices.nav",
  pages: async () => {
    const r = await api("GET", tbase() + "/devices" + q({ limit: 1 }));
    return ["devices/new", ...(r.items || []).map((d) => "devices/" + d.id)];
  },
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

// stateTag says whether the phone gets a file, and why not.
export function stateTag(d) {
  if (!d.account) return tag(t("devices.state.no_account"), "warn", t("devices.saved_disabled_why"));
  if (!d.enabled) return tag(t("devices.state.disabled"), "");
  if (!d.file) return tag(t("devices.state.problem"), "bad");
  return tag(t("devices.state.enabled"), "good");
}

// redirectTag is the read-only "provisioned on the redirection server" state.
export function redirectTag(r) {
  if (!r) return "";
  if (r.provisioned) return tag(t("devices.redirect.provisioned"), "good");
  if (r.error) return h("span", { class: "tag bad", "data-v": "", title: r.detail || "" }, r.error);
  return tag(t("devices.redirect.pending"), "");
}

async function listPage(ctx) {
  const search = ctx.query.get("q") || "";
  const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
  // The page's one call: each device comes with its account's and model's
  // labels, and the first page was asked for while the console loaded.
  const res = await getFirst(devicePagePath(S.tenant, search, offset));
  performance.mark("sb:devices");
  const box = h("div");
  const items = res.items || [];
  const rows = table({
    id: "devices",
    caption: t("devices.nav"),
    columns: [
      { id: "mac", label: t("devices.mac"), value: (d) => mono(d.mac) },
      { id: "model", label: t("devices.model"), value: (d) => d.model_label || d.model },
      { id: "account", label: t("devices.account"), value: (d) => d.account ? accountLabel({ extension: d.account_extension, display_name: d.account_name }) : "" },
      { id: "state", label: t("devices.state"), value: stateTag },
      { id: "file", label: t("devices.file"), value: (d) => d.file ? mono(d.file) : (d.problem && d.account && d.enabled ? h("span", { class: "tag bad", "data-v": "" }, d.problem) : "") },
      feature("redirect") ? { id: "redirect", label: t("devices.redirect"), value: (d) => redirectTag(d.redirect) } : null,
      { id: "notes", label: t("devices.notes"), value: (d) => d.notes || "" },
    ].filter(Boolean),
    rows: items,
    attrs: (d) => ({ "data-mac": d.mac, "data-id": d.id }),
    onOpen: (d) => ctx.go(["devices", d.id]),
    empty: search ? t("core.no_match") : t("devices.empty"),
  });
  const tools = h("div", { class: "toolbar" },
    searchBox({ id: "device-search", value: search, label: t("devices.search"), placeholder: t("devices.search_hint"),
      onSearch: (text) => ctx.setQuery({ q: text }) }),
    h("span", { class: "grow" }),
    h("button", { type: "button", class: "secondary", id: "devices-export", onclick: async (ev) => {
      await busy(ev.currentTarget, async () => {
        try { download("devices.csv", await api("GET", tbase() + "/devices.csv", undefined, { text: true }), "text/csv"); } catch (err) { box.replaceChildren(errorMessage(err)); }
      });
    } }, t("devices.export")),
    canWrite() ? importButton(box, ctx) : null,
    ...tenantButtons(res.total, box),
    canWrite() ? h("a", { href: "#/devices/new", class: "button", id: "add-device", role: "button" }, t("devices.add")) : null);
  ctx.show(t("devices.nav"), tools, box, rows,
    pager({ id: "devices-pager", total: res.total, offset, limit: PAGE, count: items.length,
      onGo: (off) => ctx.setQuery({ q: search, offset: off }) }));
}

function importButton(box, ctx) {
  const input = h("input", { type: "file", accept: ".csv,text/csv", id: "devices-import-file", class: "sr-only", tabindex: "-1", "aria-label": t("devices.import") });
  input.addEventListener("change", async () => {
    const f = input.files[0];
    if (!f) return;
    try {
      const res = await api("POST", tbase() + "/devices.csv", f, { type: "text/csv" });
      flash("ok", t("devices.imported", { created: res.created || 0, updated: res.updated || 0 }));
      ctx.reload();
    } catch (err) {
      box.replaceChildren(errorMessage(err));
    }
  });
  return h("span", {}, input, h("button", { type: "button", class: "secondary", id: "devices-import", onclick: () => input.click() }, t("devices.import")));
}

// accountPicker is a search box and a select of matching accounts: a tenant
// may have thousands, so the list is asked of the server as the user types.
function accountPicker(initial) {
  let searchInput, select;
  const fill = async (text, keep) => {
    const res = await api("GET", tbase() + "/accounts" + q({ q: text, limit: 50 }));
    const items = res.items || [];
    if (keep && keep.id && !items.some((a) => a.id === keep.id)) items.unshift(keep);
    const cur = select.value;
    select.replaceChildren(h("option", { value: "" }, t("devices.no_account")),
      ...items.map((a) => h("option", { value: a.id, "data-v": "" }, accountLabel(a))));
    select.value = items.some((a) => a.id === cur) ? cur : (keep && keep.id) || "";
    select.dispatchEvent(new Event("change", { bubbles: true }));
  };
  return {
    name: "account", label: t("devices.account"), type: "custom", wide: true,
    render: (f, attrs) => {
      select = h("select", attrs);
      searchInput = h("input", { type: "search", id: attrs.id + "-search", class: "account-search", "aria-label": t("devices.account_search"),
        placeholder: t("devices.account_search"), autocomplete: "off" });
      searchInput.addEventListener("input", debounce(() => fill(searchInput.value.trim(), null), 250));
      // The picker's search must not submit the device form.
      searchInput.addEventListener("keydown", (ev) => { if (ev.key === "Enter") ev.preventDefault(); });
      select.append(h("option", { value: "" }, t("devices.no_account")));
      fill("", initial).catch(() => {});
      return h("div", { class: "picker" }, searchInput, select);
    },
    get: () => select.value,
    set: (el, val) => { if (select) select.value = val || ""; },
  };
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const [cat, dev, servers] = await Promise.all([
    catalog({ templates: true }),
    isNew ? Promise.resolve(null) : api("GET", tbase() + "/devices/" + encodeURIComponent(id)),
    feature("redirect") ? api("GET", tbase() + "/redirect-servers").then((r) => r.items || []) : Promise.resolve([]),
  ]);
  let account = null;
  if (dev && dev.account) {
    account = await api("GET", tbase() + "/accounts/" + encodeURIComponent(dev.account)).catch(() => ({ id: dev.account, extension: dev.account }));
  }
  const d = dev || { enabled: true, ip_mode: "dhcp", remote_port: 0 };
  const modelOf = (mid) => cat.models.find((m) => m.id === mid);
  const initialBrand = d.model && modelOf(d.model) ? modelOf(d.model).brand : "";
  const ro = !canWrite();
  const preview = h("div", { id: "device-preview" });
  const note = h("div", { id: "device-note" });
  const acted = h("div", { id: "device-resync-msg" });
  const static_ = (vals) => vals.dhcp === false;
  const ipField = (name, label, required) => ({ name, label, show: static_, required,
    validate: (val) => (val && !/^\d{1,3}(\.\d{1,3}){3}$/.test(val) ? t("devices.err.ipv4", { field: label }) : "") });

  const f = form({
    id: "device-form",
    readOnly: ro,
    values: {
      enabled: d.enabled, mac: d.mac || "", brand: initialBrand, model: d.model || "", template: d.template || "",
      notes: d.notes || "", account: d.account || "", dhcp: d.ip_mode !== "static", ip_address: d.ip_address,
      netmask: d.netmask, gateway: d.gateway, dns1: d.dns1, dns2: d.dns2, phone_username: d.phone_username,
      phone_password: d.phone_password, remote_address: d.remote_address, remote_port: d.remote_port || "",
      redirect_server: d.redirect_server || "", redirect_code: d.redirect_code || "",
    },
    fields: [
      { section: t("devices.sec.general") },
      { name: "enabled", label: t("devices.enabled"), type: "checkbox" },
      { name: "mac", label: t("devices.mac"), required: true, help: t("devices.mac_help"), attrs: { autocomplete: "off", spellcheck: "false" },
        validate: (val) => (normMAC(val) ? "" : t("devices.err.mac")) },
      { name: "brand", label: t("devices.brand"), type: "select", required: true, noSubmit: true,
        options: () => [choose(), ...brandOptions(cat)] },
      { name: "model", label: t("devices.model"), type: "select", required: true,
        options: (vals) => [choose(vals.brand ? t("core.choose") : t("devices.choose_brand_first")),
          ...cat.models.filter((m) => m.brand === vals.brand).map((m) => ({ value: m.id, label: m.name, data: true }))] },
      { name: "template", label: t("devices.template"), type: "select",
        options: (vals) => templateOptions(cat, modelOf(vals.model)) },
      { name: "notes", label: t("devices.notes"), type: "textarea", wide: true, attrs: { rows: 2, maxlength: 2048 } },
      { section: t("devices.sec.account") },
      accountPicker(account),
      { section: t("devices.sec.network") },
      { name: "dhcp", label: t("devices.dhcp"), type: "checkbox", noSubmit: true, help: t("devices.dhcp_help") },
      ipField("ip_address", t("devices.ip_address"), true),
      ipField("netmask", t("devices.netmask"), true),
      ipField("gateway", t("devices.gateway"), false),
      { name: "dns1", label: t("devices.dns1"), show: static_ },
      { name: "dns2", label: t("devices.dns2"), show: static_ },
      { section: t("devices.sec.phone") },
      { name: "phone_username", label: t("devices.phone_username"), attrs: { autocomplete: "off" } },
      { name: "phone_password", label: t("devices.phone_password"), type: "password", attrs: { autocomplete: "new-password" } },
      { name: "remote_address", label: t("devices.remote_address"), help: t("devices.remote_help") },
      { name: "remote_port", label: t("devices.remote_port"), type: "number", attrs: { min: 0, max: 65535 },
        validate: (val) => (val < 0 || val > 65535 ? t("devices.err.port") : "") },
      ...(feature("redirect") ? [
        { section: t("devices.sec.redirect") },
        { name: "redirect_server", label: t("devices.redirect_server"), type: "select",
          options: (vals) => [{ value: "", label: t("devices.redirect_none") },
            ...servers.filter((s) => s.brand === vals.brand).map((s) => ({ value: s.id, label: s.name, data: true }))] },
        { name: "redirect_code", label: t("devices.redirect_code"), help: t("devices.redirect_code_help"),
          show: (vals) => vals.brand === "gigaset" },
      ] : []),
    ],
    errorFields: { ip_mode: "dhcp" },
    buttons: [
      ro ? null : h("button", { type: "button", class: "secondary", id: "device-preview-btn", onclick: (ev) => busy(ev.currentTarget, () => doPreview()) }, t("devices.preview")),
      ...(isNew ? [] : deviceButtons(d, acted)),
      ro || isNew ? null : h("button", { type: "button", class: "danger", id: "device-delete", onclick: () => doDelete() }, t("core.delete")),
      h("a", { href: "#/devices", class: "back" }, t("core.back")),
    ],
    onChange: (vals) => noteFor(vals),
    onSubmit: async (vals) => {
      const body = payload(vals);
      const saved = await api(isNew ? "POST" : "PATCH", tbase() + "/devices" + (isNew ? "" : "/" + encodeURIComponent(id)), body);
      flash(body.enabled && !saved.enabled ? "warn" : "ok",
        body.enabled && !saved.enabled ? t("devices.saved_disabled", { mac: saved.mac }) : t("devices.saved", { mac: saved.mac }));
      ctx.go(["devices"], {});
    },
  });
  const payload = (vals) => {
    const out = f.payload(vals);
    out.mac = normMAC(vals.mac) || vals.mac;
    out.ip_mode = vals.dhcp ? "dhcp" : "static";
    if (!feature("redirect")) { delete out.redirect_server; delete out.redirect_code; }
    return out;
  };
  const noteFor = (vals) => {
    note.replaceChildren(vals.enabled && !vals.account ? message("warn", t("devices.saved_disabled_why")) : "");
  };
  const doPreview = async () => {
    f.clearErrors();
    if (f.check().length) { f.showMessage("error", t("core.err.check_fields")); return; }
    try {
      const res = await api("POST", tbase() + "/devices/preview" + q({ id: isNew ? "" : id }), payload(f.values()));
      preview.replaceChildren(section(t("devices.preview_title"),
        res.problem ? message("warn", problemText(res)) : null,
        res.file ? h("p", {}, t("devices.preview_file"), " ", mono(res.file)) : null,
        res.body ? h("pre", { "data-v": "", id: "device-preview-body" }, res.body) : null));
    } catch (err) {
      f.showError(err);
    }
  };
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("devices.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("devices.delete_body", { mac: d.mac })) });
    if (!ok) return;
    try {
      await api("DELETE", tbase() + "/devices/" + encodeURIComponent(id));
      flash("ok", t("devices.deleted", { mac: d.mac }));
      ctx.go(["devices"], {});
    } catch (err) {
      f.showError(err);
    }
  };
  noteFor(f.values());
  if (dev && !ro) {
    f.byName.phone_password.wrap.append(revealButton({ id: "reveal-phone-password", path: "/devices/" + encodeURIComponent(id) + "/reveal",
      key: "phone_password", what: t("reveal.phone_password", { mac: d.mac }) }));
  }
  const state = dev ? section(t("devices.sec.state"), h("table", { class: "kv", id: "device-state" }, h("tbody", {},
    h("tr", {}, h("th", {}, t("devices.state")), h("td", {}, stateTag(dev))),
    h("tr", {}, h("th", {}, t("devices.file")), h("td", {}, dev.file
      ? [mono(dev.file), " ", h("a", { href: "#/files?" + new URLSearchParams({ q: dev.file, open: dev.file }), id: "device-file-link" }, t("devices.show_file"))]
      : (dev.problem ? v(dev.problem) : ""))),
    feature("redirect") ? h("tr", {}, h("th", {}, t("devices.redirect_state")), h("td", {}, redirectTag(dev.redirect) || t("devices.redirect.none"))) : null,
    ro ? null : h("tr", {}, h("th", {}, t("devices.secret_url")), h("td", {}, secretURL(id))),
    h("tr", {}, h("th", {}, t("devices.enroll")), h("td", {}, enrollment(ctx, dev, ro)))))) : null;
  ctx.show(isNew ? t("devices.new_title") : t("devices.edit_title", { mac: d.mac }),
    ro ? message("info", t("core.read_only")) : null, note, acted, state, f.el, preview);
}

// secretURL shows a device's secret provisioning URL on demand (a reveal,
// recorded in the audit log) and issues a new one (the old stops working).
function secretURL(id) {
  const out = h("span", { id: "device-secret-url" });
  const path = tbase() + "/devices/" + encodeURIComponent(id);
  const show = h("button", { type: "button", class: "secondary", id: "device-secret-show",
    onclick: (ev) => busy(ev.currentTarget, async () => {
      try {
        const r = await api("POST", path + "/reveal");
        out.replaceChildren(mono(r.provisioning_url));
      } catch (err) { out.replaceChildren(errorMessage(err)); }
    }) }, t("devices.secret_url_show"));
  const renew = h("button", { type: "button", class: "secondary", id: "device-secret-renew",
    onclick: async () => {
      const ok = await confirmDialog({ title: t("devices.secret_url_renew_title"), confirm: t("devices.secret_url_renew"),
        body: h("p", {}, t("devices.secret_url_renew_body")) });
      if (!ok) return;
      try {
        await api("PATCH", path, { url_token: "" });
        const r = await api("POST", path + "/reveal");
        out.replaceChildren(mono(r.provisioning_url));
        flash("ok", t("devices.secret_url_renewed"));
      } catch (err) { out.replaceChildren(errorMessage(err)); }
    } }, t("devices.secret_url_renew"));
  return h("span", {}, h("span", { class: "help" }, t("devices.secret_url_help")), " ", show, " ", renew, " ", out);
}

// enrollment shows whether the bootstrap file served by MAC hands the secret
// URL out now (awaiting enrollment), or the phone has claimed it (when, from
// where, flagged when not from where the bootstrap file went), and lets the
// installer open or close the window.
function enrollment(ctx, dev, ro) {
  const e = dev.enrollment || {};
  const parts = [];
  switch (dev.enroll_state) {
    case "open":
      parts.push(tag(t("devices.enroll.open"), "warn"), " ", t("devices.enroll.until"), " ", time(e.until));
      if (e.handed_to) parts.push(" ", t("devices.enroll.handed", { ip: e.handed_to }), " ", time(e.handed_at));
      break;
    case "claimed":
      parts.push(tag(t("devices.enroll.claimed"), e.mismatch ? "bad" : "good"), " ", time(e.claimed_at), " ",
        t("devices.enroll.from", { ip: e.claimed_from }));
      if (e.mismatch) parts.push(message("warn", t("devices.enroll.mismatch", { handed: e.handed_to, from: e.claimed_from })));
      break;
    default:
      parts.push(tag(t("devices.enroll.closed"), ""));
  }
  const out = h("span", { id: "device-enroll-state", "data-state": dev.enroll_state || "" }, ...parts);
  if (ro) return out;
  const path = tbase() + "/devices/" + encodeURIComponent(dev.id) + "/enroll";
  const act = (body, msg) => (ev) => busy(ev.currentTarget, async () => {
    try {
      await api("POST", path, body);
      flash("ok", msg);
      ctx.reload();
    } catch (err) { out.append(errorMessage(err)); }
  });
  const open = h("button", { type: "button", class: "secondary", id: "device-enroll-open",
    onclick: act({}, t("devices.enroll.opened")) }, t("devices.enroll.allow"));
  const close = dev.enroll_state === "open" ? h("button", { type: "button", class: "secondary", id: "device-enroll-close",
    onclick: act({ window: 0 }, t("devices.enroll.closed_msg")) }, t("devices.enroll.close")) : null;
  return h("span", {}, out, " ", open, close ? " " : null, close, h("div", { class: "help" }, t("devices.enroll_help")));
}

function problemText(res) {
  if (!res.device.account) return t("devices.saved_disabled_why");
  if (!res.device.enabled) return t("devices.preview_disabled");
  return res.problem;
}

// templateOptions: the model's default, the templates of the brand's models,
// and the user's templates in the same format (XML or plain).
function templateOptions(cat, model) {
  if (!model) return [{ value: "", label: t("devices.template_default_none") }];
  const def = cat.templates.find((x) => x.id === model.template);
  const brandTemplates = new Set(cat.models.filter((m) => m.brand === model.brand).map((m) => m.template));
  const opts = [{ value: "", label: t("devices.template_default", { name: def ? def.name : model.template }) }];
  for (const x of cat.templates) {
    if (x.scope !== "device") continue;
    if (brandTemplates.has(x.id) || (!x.builtin && (!def || x.escape === def.escape))) {
      opts.push({ value: x.id, label: x.name, data: true });
    }
  }
  return opts;
}

/** normMAC accepts AA:BB:CC:DD:EE:FF, AA-BB-CC-DD-EE-FF and AABBCCDDEEFF (any case). */
export function normMAC(s) {
  s = String(s || "").trim();
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(s) || /^[0-9a-f]{12}$/i.test(s)) {
    return s.replace(/[:-]/g, "").toUpperCase();
  }
  return "";
}
