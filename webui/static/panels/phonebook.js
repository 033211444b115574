// Rubrica: the tenant's phonebook (searched and paged by the server), a form
// per contact, CSV import and export, and the desk phones' directory files.
"use strict";

import {
  h, v, mono, t, S, api, APIError, tbase, q, canWrite, form, table, pager, searchBox, register, flash, confirmDialog,
  errorMessage, message, busy, download, section, fmtBytes,
} from "../core/kit.js";

const PAGE = 50;
const TYPES = ["public", "private", "speeddial"];

register({
  id: "phonebook", path: "phonebook", group: "services", order: 40, nav: "phonebook.nav",
  pages: async () => {
    const r = await api("GET", tbase() + "/phonebook" + q({ limit: 1 }));
    return ["phonebook/new", "phonebook/files", ...(r.items || []).map((c) => "phonebook/" + c.id)];
  },
  render: (ctx) => {
    if (ctx.path[0] === "files") return filesPage(ctx);
    return ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx);
  },
});

function typeLabel(type) {
  return TYPES.includes(type) ? t("phonebook.type." + type) : type;
}

// numbers lists a contact's numbers with their kind.
function numbers(c) {
  const out = [];
  for (const [field, key] of [["extension", "ext"], ["workphone", "work"], ["cellphone", "mobile"], ["homephone", "home"], ["speeddial_num", "dial"]]) {
    if (c[field]) out.push(h("span", { class: "num" }, t("phonebook.num." + key), " ", mono(c[field])));
  }
  return h("span", { class: "nums" }, ...out.flatMap((n, i) => (i ? [", ", n] : [n])));
}

function tabs(current) {
  return h("nav", { class: "toolbar tabs", "aria-label": t("phonebook.tabs") },
    h("a", { href: "#/phonebook", class: current === "contacts" ? "button" : "button secondary", "aria-current": current === "contacts" ? "page" : null, id: "tab-contacts" }, t("phonebook.contacts")),
    h("a", { href: "#/phonebook/files", class: current === "files" ? "button" : "button secondary", "aria-current": current === "files" ? "page" : null, id: "tab-phone-files" }, t("phonebook.files")));
}

// importCSV posts a CSV file; a refused file's every bad line is listed.
async function importCSV(file) {
  const resp = await fetch("/api/v1" + tbase() + "/phonebook.csv", {
    method: "POST", headers: { "Authorization": "Bearer " + S.token, "Content-Type": "text/csv" }, body: file,
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const err = new APIError(resp.status, (data && data.error) || resp.statusText, data && data.field);
    err.lines = (data && data.errors) || [];
    throw err;
  }
  return data;
}

function importErrors(err) {
  if (!err.lines || !err.lines.length) return errorMessage(err);
  return message("error", h("strong", {}, t("phonebook.import_refused", { n: err.lines.length })),
    h("ul", { id: "phonebook-import-errors" }, err.lines.map((l) => h("li", { "data-line": String(l.line) },
      t("phonebook.import_line", { line: l.line }), " ", l.field ? mono(l.field) : null, " ", v(l.error)))));
}

async function listPage(ctx) {
  const search = ctx.query.get("q") || "";
  const type = ctx.query.get("type") || "";
  const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
  const res = await api("GET", tbase() + "/phonebook" + q({ q: search, type, limit: PAGE, offset }));
  const items = res.items || [];
  const box = h("div", { id: "phonebook-msg" });
  const list = table({
    id: "phonebook",
    caption: t("phonebook.nav"),
    columns: [
      { id: "name", label: t("phonebook.name"), value: (c) => c.name || "" },
      { id: "company", label: t("phonebook.company"), value: (c) => c.company || "" },
      { id: "numbers", label: t("phonebook.numbers"), value: numbers },
      { id: "email", label: t("phonebook.email"), value: (c) => c.workemail || "" },
      { id: "type", label: t("phonebook.type"), value: (c) => typeLabel(c.type) },
      { id: "owner", label: t("phonebook.owner"), value: (c) => (c.owner_id ? mono(c.owner_id) : t("phonebook.owner_tenant")) },
    ],
    rows: items,
    attrs: (c) => ({ "data-id": String(c.id) }),
    onOpen: (c) => ctx.go(["phonebook", String(c.id)]),
    empty: search || type ? t("core.no_match") : t("phonebook.empty"),
  });
  const importInput = h("input", { type: "file", accept: ".csv,text/csv", class: "sr-only", tabindex: "-1", id: "phonebook-import-file", "aria-label": t("phonebook.import") });
  importInput.addEventListener("change", async () => {
    const f = importInput.files[0];
    if (!f) return;
    try {
      const r = await importCSV(f);
      flash("ok", t("phonebook.imported", { created: r.created || 0, updated: r.updated || 0 }));
      ctx.reload();
    } catch (err) {
      box.replaceChildren(importErrors(err));
    }
    importInput.value = "";
  });
  const typeSelect = h("select", { id: "phonebook-type", "aria-label": t("phonebook.type_filter"), onchange: (ev) => ctx.setQuery({ q: search, type: ev.target.value }) },
    h("option", { value: "" }, t("phonebook.type_all")),
    TYPES.map((x) => h("option", { value: x, selected: x === type ? "" : null }, typeLabel(x))));
  const tools = h("div", { class: "toolbar" },
    searchBox({ id: "phonebook-search", value: search, label: t("phonebook.search"), placeholder: t("phonebook.search_hint"),
      onSearch: (text) => ctx.setQuery({ q: text, type }) }),
    typeSelect,
    h("span", { class: "grow" }),
    h("button", { type: "button", class: "secondary", id: "phonebook-export", onclick: (ev) => busy(ev.currentTarget, async () => {
      try { download("phonebook.csv", await api("GET", tbase() + "/phonebook.csv", undefined, { text: true }), "text/csv"); } catch (err) { box.replaceChildren(errorMessage(err)); }
    }) }, t("phonebook.export")),
    canWrite() ? h("span", {}, importInput, h("button", { type: "button", class: "secondary", id: "phonebook-import", onclick: () => importInput.click() }, t("phonebook.import"))) : null,
    canWrite() ? h("a", { href: "#/phonebook/new", class: "button", id: "add-contact", role: "button" }, t("phonebook.add")) : null);
  ctx.show(t("phonebook.nav"), tabs("contacts"), h("p", { class: "muted" }, t("phonebook.intro")), tools, box, list,
    pager({ id: "phonebook-pager", total: res.total, offset, limit: PAGE, count: items.length, onGo: (off) => ctx.setQuery({ q: search, type, offset: off }) }));
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const c = isNew ? { type: "public" } : await api("GET", tbase() + "/phonebook/" + encodeURIComponent(id));
  const ro = !canWrite();
  const number = (name, label) => ({ name, label, attrs: { maxlength: 40, inputmode: "tel", autocomplete: "off" } });
  const f = form({
    id: "contact-form",
    readOnly: ro,
    values: c,
    fields: [
      { section: t("phonebook.sec.who") },
      { name: "name", label: t("phonebook.name"), attrs: { maxlength: 255 },
        validate: (val, vals) => (!val.trim() && !(vals.company || "").trim() ? t("phonebook.err.name_or_company") : "") },
      { name: "company", label: t("phonebook.company"), attrs: { maxlength: 255 } },
      { name: "title", label: t("phonebook.title"), attrs: { maxlength: 255 } },
      { name: "type", label: t("phonebook.type"), type: "select", help: t("phonebook.type_help"),
        options: TYPES.map((x) => ({ value: x, label: typeLabel(x) })) },
      { name: "owner_id", label: t("phonebook.owner"), help: t("phonebook.owner_help"), attrs: { maxlength: 64, autocomplete: "off" },
        show: (vals) => vals.type !== "public" || !!c.owner_id,
        validate: (val, vals) => (vals.type !== "public" && !val.trim() ? t("phonebook.err.owner") : "") },
      { section: t("phonebook.sec.numbers") },
      number("extension", t("phonebook.extension")),
      number("workphone", t("phonebook.workphone")),
      number("cellphone", t("phonebook.cellphone")),
      number("homephone", t("phonebook.homephone")),
      number("fax", t("phonebook.fax")),
      Object.assign(number("speeddial_num", t("phonebook.speeddial_num")), { show: (vals) => vals.type === "speeddial",
        validate: (val, vals) => (vals.type === "speeddial" && !val.trim() ? t("phonebook.err.speeddial") : "") }),
      { section: t("phonebook.sec.more") },
      { name: "workemail", label: t("phonebook.workemail"), type: "email", attrs: { maxlength: 255 } },
      { name: "homeemail", label: t("phonebook.homeemail"), type: "email", attrs: { maxlength: 255 } },
      { name: "url", label: t("phonebook.url"), attrs: { maxlength: 255 } },
      { name: "workcity", label: t("phonebook.workcity"), attrs: { maxlength: 255 } },
      { name: "notes", label: t("phonebook.notes"), type: "textarea", attrs: { maxlength: 4096, rows: 3 } },
    ],
    buttons: [
      ro || isNew ? null : h("button", { type: "button", class: "danger", id: "contact-delete", onclick: () => doDelete() }, t("core.delete")),
      h("a", { href: "#/phonebook", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      if (vals.type === "public" && !c.owner_id) vals.owner_id = "";
      if (vals.type !== "speeddial") delete vals.speeddial_num;
      const saved = await api(isNew ? "POST" : "PATCH", tbase() + "/phonebook" + (isNew ? "" : "/" + encodeURIComponent(id)), vals);
      flash("ok", t("phonebook.saved", { name: saved.name || saved.company }));
      ctx.go(["phonebook"], {});
    },
  });
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("phonebook.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("phonebook.delete_body", { name: c.name || c.company })) });
    if (!ok) return;
    try {
      await api("DELETE", tbase() + "/phonebook/" + encodeURIComponent(id));
      flash("ok", t("phonebook.deleted", { name: c.name || c.company }));
      ctx.go(["phonebook"], {});
    } catch (err) { f.showError(err); }
  };
  ctx.show(isNew ? t("phonebook.new_title") : t("phonebook.edit_title", { name: c.name || c.company }),
    ro ? message("info", t("core.read_only")) : null, f.el);
}

async function filesPage(ctx) {
  const res = await api("GET", tbase() + "/phonebook-files");
  const base = S.status.tenancy_mode === "multi" ? `/provisioning/${S.tenant}/` : "/provisioning/";
  const list = table({
    id: "phonebook-files",
    caption: t("phonebook.files"),
    columns: [
      { id: "vendor", label: t("phonebook.vendor"), value: (f) => f.vendor },
      { id: "path", label: t("phonebook.path"), value: (f) => mono(base + f.path) },
      { id: "size", label: t("phonebook.size"), value: (f) => fmtBytes(f.size) },
    ],
    rows: res.items || [],
    attrs: (f) => ({ "data-vendor": f.vendor }),
  });
  ctx.show(t("phonebook.files"), tabs("files"),
    section(null, h("p", {}, t("phonebook.files_intro")), h("p", { class: "muted" }, t("phonebook.files_auth"))), list);
}
