// Registro delle modifiche: every configuration change, filtered and paged by
// the server, with the columns the user chooses, a field-by-field diff that
// names linked objects instead of showing their UUIDs, restore (admins) and the
// chain verification.
"use strict";

import {
  h, v, mono, time, tag, t, has, lang, api, APIError, tbase, q, S, isAdmin, canWrite, form, table, pager, register, flash,
  confirmDialog, errorMessage, message, section, busy, download, columnChooser, chosenColumns, tenantName,
} from "../core/kit.js";
import { catalog, modelLabel, accountLabel } from "./shared/catalog.js";

const PAGE = 50;
const COLS_KEY = "sb.audit.columns";

register({
  id: "audit", path: "audit", group: "system", order: 30, nav: "audit.nav",
  pages: async () => {
    const r = await api("GET", "/audit" + q({ limit: 3, columns: "id" }));
    return (r.items || []).map((x) => "audit/" + x.id);
  },
  render: (ctx) => (ctx.path.length ? detailPage(ctx, ctx.path[0]) : listPage(ctx)),
});

/** typeLabel names an object type (an unknown one, from a newer panel, as is). */
export function typeLabel(type) { return has("audit.type." + type) ? t("audit.type." + type) : v(type); }
function actionLabel(a) { return has("audit.action." + a) ? t("audit.action." + a) : v(a); }

function columns() {
  return [
    { id: "id", label: t("audit.col.id"), value: (r) => r.id },
    { id: "time", label: t("audit.col.time"), value: (r) => time(r.time) },
    { id: "user", label: t("audit.col.user"), value: (r) => r.user },
    { id: "source_ip", label: t("audit.col.source_ip"), value: (r) => r.source_ip },
    { id: "tenant", label: t("audit.col.tenant"), value: (r) => (r.tenant ? tenantName(r.tenant) : "") },
    { id: "action", label: t("audit.col.action"), value: (r) => actionLabel(r.action) },
    { id: "object_type", label: t("audit.col.object_type"), value: (r) => typeLabel(r.object_type) },
    { id: "object_id", label: t("audit.col.object_id"), value: (r) => mono(r.object_id), hidden: true },
    { id: "tx_id", label: t("audit.col.tx_id"), value: (r) => r.tx_id, hidden: true },
    { id: "description", label: t("audit.col.description"), value: (r) => r.description },
  ];
}

const FILTERS = ["month", "day", "user", "object_type", "action"];

async function listPage(ctx) {
  const cols = columns();
  const visible = chosenColumns(COLS_KEY, cols);
  const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
  const filter = {};
  for (const k of FILTERS) if (ctx.query.get(k)) filter[k] = ctx.query.get(k);
  // Only the chosen columns travel, never the before/after images of 50 rows.
  const wanted = [...new Set(["id", ...visible])].join(",");
  const box = h("div");
  const filters = form({
    id: "audit-filters", inline: true, submit: t("audit.filter"), values: filter,
    fields: [
      { name: "month", label: t("audit.month"), placeholder: t("audit.month_hint"), attrs: { size: 8 },
        validate: (x) => (x && !/^\d{4}-\d{2}$/.test(x) ? t("audit.err.month") : "") },
      { name: "day", label: t("audit.day"), type: "date" },
      { name: "user", label: t("audit.col.user"), attrs: { size: 10 } },
      { name: "object_type", label: t("audit.col.object_type"), type: "select",
        options: [{ value: "", label: t("audit.any") }, ...TYPES.map((x) => ({ value: x, label: t("audit.type." + x) }))] },
      { name: "action", label: t("audit.col.action"), type: "select",
        options: [{ value: "", label: t("audit.any") }, ...["create", "update", "delete", "restore"].map((a) => ({ value: a, label: t("audit.action." + a) }))] },
    ],
    onSubmit: async (vals) => ctx.setQuery(vals),
  });
  let res;
  try {
    res = await api("GET", "/audit" + q(Object.assign({}, filter, { columns: wanted, limit: PAGE, offset })));
  } catch (err) {
    if (err.status !== 400) throw err;
    filters.showError(err);
    res = { items: [], total: 0 };
  }
  const verify = S.me.role !== "tenant_admin" ? h("button", { type: "button", class: "secondary", id: "verify", onclick: (ev) => busy(ev.currentTarget, async () => {
    try {
      const r = await api("GET", "/audit/verify");
      box.replaceChildren(r.ok ? message("ok", t("audit.chain_ok", { n: r.rows }))
        : message("error", h("strong", {}, t("audit.chain_broken", { n: (r.problems || []).length })),
          h("ul", {}, (r.problems || []).map((p) => h("li", {}, t("audit.chain_problem", { row: p.row }), " ", v(p.reason))))));
    } catch (err) { box.replaceChildren(errorMessage(err)); }
  }) }, t("audit.verify")) : null;
  // The server writes the export (every matching row, not just this page) in
  // the chosen format with the chosen columns.
  const exportForm = form({
    id: "audit-export", inline: true, submit: t("audit.export"),
    values: { format: "xlsx" },
    fields: [{ name: "format", label: t("audit.export_format"), type: "select",
      options: ["xlsx", "csv", "json", "xml"].map((x) => ({ value: x, label: t("audit.format." + x) })) }],
    onSubmit: async (vals) => {
      const query = q(Object.assign({}, filter, { format: vals.format, columns: visible.join(","), lang }));
      const resp = await fetch("/api/v1/audit/export" + query, { headers: { Authorization: "Bearer " + S.token } });
      if (!resp.ok) {
        const d = await resp.json().catch(() => null);
        throw new APIError(resp.status, (d && d.error) || resp.statusText, d && d.field);
      }
      const m = /filename="?([^";]+)"?/.exec(resp.headers.get("Content-Disposition") || "");
      download(m ? m[1] : "audit." + vals.format, await resp.blob(), resp.headers.get("Content-Type"));
      exportForm.showMessage("ok", t("audit.exported"));
    },
  });
  const list = table({
    id: "audit", caption: t("audit.nav"), columns: cols, visible, rows: res.items || [],
    attrs: (r) => ({ "data-id": r.id }),
    onOpen: (r) => ctx.go(["audit", String(r.id)]),
    empty: t("audit.empty"),
  });
  ctx.show(t("audit.nav"), filters.el,
    h("div", { class: "toolbar" }, verify,
      exportForm.el,
      h("span", { class: "grow" }),
      columnChooser({ id: "audit-columns", key: COLS_KEY, columns: cols, onChange: () => ctx.reload() })),
    box, list,
    pager({ id: "audit-pager", total: res.total, offset, limit: PAGE, count: (res.items || []).length,
      onGo: (off) => ctx.setQuery(Object.assign({}, filter, { offset: off })) }));
}

const TYPES = ["tenant", "user", "pbx", "account", "device", "placeholder", "model", "template", "asset",
  "redirect_server", "redirect_state", "cti_user", "cti_profile", "ha_action", "task", "task_run", "mail_settings"];

// flatten turns an object into path -> value ("file.mac_format": "lower").
function flatten(obj, prefix, out) {
  out = out || {};
  if (obj === null || obj === undefined) return out;
  if (typeof obj !== "object") { out[prefix || "value"] = obj; return out; }
  if (Array.isArray(obj)) {
    if (!obj.length) out[prefix] = [];
    obj.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
    return out;
  }
  const keys = Object.keys(obj);
  if (!keys.length && prefix) out[prefix] = {};
  for (const k of keys) flatten(obj[k], prefix ? `${prefix}.${k}` : k, out);
  return out;
}

// resolver names the objects a field links to: an account as "201 Grace
// Hopper", a model as "Yealink T46U", a tenant by its name.
async function resolver(row) {
  const tenant = row.tenant || (row.object_type === "tenant" ? row.object_id : "");
  const cat = tenant && tenant === S.tenant ? await catalog({ templates: true }).catch(() => null) : null;
  const cache = {};
  const get = async (path) => {
    if (!(path in cache)) cache[path] = api("GET", path).catch(() => null);
    return cache[path];
  };
  return async (field, value) => {
    if (typeof value !== "string" || !value) return null;
    const key = field.split(".").pop().replace(/\[\d+\]$/, "");
    if (key === "tenant") return S.tenants.some((x) => x.id === value) ? tenantName(value) : null;
    if (!tenant) return null;
    const base = tbase(tenant);
    switch (key) {
      case "account": {
        const a = await get(base + "/accounts/" + encodeURIComponent(value));
        return a ? accountLabel(a) : null;
      }
      case "model":
        return cat && cat.models.some((m) => m.id === value) ? modelLabel(cat, value) : null;
      case "template": {
        const x = cat && cat.templates.find((y) => y.id === value);
        return x ? x.name : null;
      }
      case "redirect_server": {
        const s = await get(base + "/redirect-servers/" + encodeURIComponent(value));
        return s ? s.name : null;
      }
      case "device": {
        const d = await get(base + "/devices/" + encodeURIComponent(value));
        return d ? d.mac : null;
      }
    }
    return null;
  };
}

function fieldLabel(path) {
  const key = path.replace(/\[\d+\]/g, "").replace(/\./g, "_");
  // The title (the field's JSON path) is data.
  return has("audit.field." + key) ? h("span", { title: path, "data-v": "" }, t("audit.field." + key)) : mono(path);
}

async function valueNode(name, field, val) {
  if (val === undefined) return h("span", { class: "muted" }, t("audit.absent"));
  if (val === "********") return h("span", { class: "muted" }, t("audit.secret"));
  if (typeof val === "boolean") return val ? t("core.yes") : t("core.no");
  const text = typeof val === "object" ? JSON.stringify(val) : String(val);
  const named = await name(field, val);
  if (named) return h("span", { title: text, "data-v": "" }, v(named), " ", h("span", { class: "muted" }, mono(text.length > 13 ? text.slice(0, 8) + "…" : text)));
  return v(text);
}

async function diffTable(row) {
  const before = flatten(row.before, ""), after = flatten(row.after, "");
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const name = await resolver(row);
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  const shown = row.action === "update" || row.action === "restore" ? changed : keys;
  const rows = [];
  for (const k of shown) {
    rows.push(h("tr", { "data-field": k },
      h("th", { scope: "row" }, fieldLabel(k)),
      h("td", { class: "before" }, row.before ? await valueNode(name, k, before[k]) : ""),
      h("td", { class: "after" }, row.after ? await valueNode(name, k, after[k]) : "")));
  }
  if (!rows.length) return message("info", t("audit.no_fields"));
  return h("table", { class: "list diff", id: "audit-diff" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("audit.field")), h("th", { scope: "col" }, t("audit.before")), h("th", { scope: "col" }, t("audit.after")))),
    h("tbody", {}, rows));
}

async function detailPage(ctx, id) {
  const r = await api("GET", "/audit/" + encodeURIComponent(id));
  const box = h("div");
  const restore = isAdmin() ? h("button", { type: "button", class: "secondary", id: "restore", onclick: async () => {
    const ok = await confirmDialog({
      title: t("audit.restore_title", { id: r.id }),
      confirm: t("audit.restore"),
      body: [h("p", {}, t("audit.restore_body", { description: r.description })),
        h("p", { class: "muted" }, r.action === "create" ? t("audit.restore_create") : r.action === "delete" ? t("audit.restore_delete") : t("audit.restore_update"))],
    });
    if (!ok) return;
    try {
      const res = await api("POST", `/audit/${r.id}/restore`);
      flash("ok", t("audit.restored", { id: r.id, new_id: res.audit.id }));
      ctx.go(["audit", String(res.audit.id)]);
    } catch (err) { box.replaceChildren(errorMessage(err)); }
  } }, t("audit.restore")) : null;
  ctx.show(t("audit.detail_title", { id: r.id }),
    h("a", { href: "#/audit", class: "back" }, t("core.back")),
    box,
    section(null, h("table", { class: "kv", id: "audit-row" }, h("tbody", {},
      h("tr", {}, h("th", {}, t("audit.col.description")), h("td", {}, v(r.description))),
      h("tr", {}, h("th", {}, t("audit.col.time")), h("td", {}, time(r.time))),
      h("tr", {}, h("th", {}, t("audit.col.user")), h("td", {}, v(r.user), " ", h("span", { class: "muted" }, v(r.source_ip)))),
      h("tr", {}, h("th", {}, t("audit.col.tenant")), h("td", {}, r.tenant ? v(tenantName(r.tenant)) : t("audit.global"))),
      h("tr", {}, h("th", {}, t("audit.col.action")), h("td", {}, actionLabel(r.action))),
      h("tr", {}, h("th", {}, t("audit.col.object_type")), h("td", {}, typeLabel(r.object_type))),
      h("tr", {}, h("th", {}, t("audit.col.object_id")), h("td", {}, mono(r.object_id))),
      h("tr", {}, h("th", {}, t("audit.col.tx_id")), h("td", {}, v(r.tx_id)))))),
    section(t("audit.changes"), await diffTable(r)),
    restore ? h("div", { class: "buttons" }, restore) : null);
}
