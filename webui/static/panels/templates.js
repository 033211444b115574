// Lista dei template: the configuration texts phones get, with %%PLACEHOLDER%%
// values. Built-in templates are read-only (copy one to change it); the editor
// numbers the lines, marks the line of an unknown placeholder, inserts
// placeholders from the list beside it and previews the result for a device.
"use strict";

import {
  h, v, mono, tag, t, plain, has, api, tbase, q, S, canWrite, isAdmin, form, table, register, flash, confirmDialog,
  errorMessage, message, section, busy, debounce, uid,
} from "../core/kit.js";
import { offer } from "./shared/resync.js";
import { invalidate } from "./shared/catalog.js";

register({
  id: "templates", path: "templates", group: "provisioning", order: 40, nav: "templates.nav",
  pages: async () => {
    const r = await api("GET", tbase() + "/templates");
    const items = r.items || [];
    const builtin = items.find((x) => x.builtin);
    const own = items.find((x) => !x.builtin);
    return ["templates/new", builtin && "templates/" + builtin.id, own && "templates/" + own.id].filter(Boolean);
  },
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

// where says where a template lives: built-in, global (every tenant) or the tenant's.
async function origins() {
  const [all, global] = await Promise.all([api("GET", tbase() + "/templates"), api("GET", "/templates")]);
  const g = new Set((global.items || []).filter((x) => !x.builtin).map((x) => x.id));
  return (all.items || []).map((x) => Object.assign({}, x, { origin: x.builtin ? "builtin" : g.has(x.id) ? "global" : "tenant" }));
}

function originTag(x) {
  return tag(t("templates.origin." + x.origin), x.origin === "builtin" ? "" : "good");
}

/** writable: may this user change a template of this origin? */
function writable(origin) {
  return canWrite() && (origin === "tenant" || (origin === "global" && isAdmin()));
}

function base(origin) { return origin === "global" ? "/templates" : tbase() + "/templates"; }

async function copy(ctx, x, box) {
  try {
    const c = await api("POST", tbase() + "/templates/" + encodeURIComponent(x.id) + "/copy",
      { name: plain("templates.copy_name", { name: x.name }) });
    invalidate();
    flash("ok", t("templates.copied", { name: x.name }));
    ctx.go(["templates", c.id]);
  } catch (err) { box.replaceChildren(errorMessage(err)); }
}

async function listPage(ctx) {
  const items = await origins();
  const box = h("div");
  const filter = ctx.query.get("scope") || "";
  const rows = items.filter((x) => !filter || x.scope === filter);
  const list = table({
    id: "templates",
    caption: t("templates.nav"),
    columns: [
      { id: "name", label: t("core.name"), value: (x) => x.name },
      { id: "scope", label: t("templates.scope"), value: (x) => t("templates.scope." + x.scope) },
      { id: "escape", label: t("templates.escape"), value: (x) => t("templates.escape." + x.escape) },
      { id: "origin", label: t("templates.origin"), value: originTag },
      canWrite() ? { id: "actions", label: t("core.actions"), cls: "actions", value: (x) =>
        h("button", { type: "button", class: "secondary", "data-copy": x.id, onclick: (ev) => busy(ev.currentTarget, () => copy(ctx, x, box)) }, t("templates.copy")) } : null,
    ].filter(Boolean),
    rows,
    attrs: (x) => ({ "data-id": x.id, "data-origin": x.origin }),
    onOpen: (x) => ctx.go(["templates", x.id]),
    empty: t("templates.empty"),
  });
  const scopeSel = h("select", { id: "template-scope-filter", "aria-label": t("templates.scope") },
    h("option", { value: "" }, t("templates.all_scopes")),
    ["device", "common"].map((s) => h("option", { value: s, selected: s === filter }, t("templates.scope." + s))));
  scopeSel.addEventListener("change", () => ctx.setQuery({ scope: scopeSel.value }));
  ctx.show(t("templates.nav"),
    h("p", { class: "muted" }, t("templates.intro")),
    h("div", { class: "toolbar" }, scopeSel, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/templates/new", class: "button", id: "add-template", role: "button" }, t("templates.add")) : null),
    box, list);
}

// scan finds the placeholders of a body as the server's Compile does: %%NAME%%
// or %%NAME|from=to|...%% on one line; %%%% is a literal %%.
export function scan(body) {
  const out = [];
  let line = 1;
  for (let i = 0; i < body.length;) {
    const c = body[i];
    if (c === "\n") line++;
    if (c !== "%" || body[i + 1] !== "%") { i++; continue; }
    if (body.startsWith("%%%%", i)) { i += 4; continue; }
    const end = body.indexOf("%%", i + 2);
    const nl = body.indexOf("\n", i + 2);
    if (end < 0 || (nl >= 0 && nl < end)) { i += 2; continue; }
    const inner = body.slice(i + 2, end);
    const name = inner.split("|")[0];
    if (!/^[A-Za-z0-9_]+$/.test(name)) { i += 2; continue; }
    out.push({ name, line, mapping: inner.includes("|") ? inner.slice(name.length + 1) : null });
    i = end + 2;
  }
  return out;
}

function phDescription(p) {
  return has("templates.ph." + p.name) ? t("templates.ph." + p.name) : v(p.description || "");
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const [items, builtins, custom] = await Promise.all([
    origins(), api("GET", "/placeholders"), api("GET", tbase() + "/placeholders")]);
  let x;
  if (isNew) x = { name: "", scope: "device", escape: "none", content_type: "text/plain", body: "", origin: "tenant" };
  else {
    x = items.find((y) => y.id === id);
    if (!x) throw Object.assign(new Error("not found"), { status: 404 });
    x = Object.assign({}, await api("GET", tbase() + "/templates/" + encodeURIComponent(id)), { origin: x.origin });
  }
  const ro = !canWrite() || (!isNew && !writable(x.origin));
  const box = h("div");
  const problems = h("div", { id: "template-problems", "aria-live": "polite" });
  const output = h("div", { id: "template-preview" });
  let lastServerLine = 0;

  // The editor: a numbered gutter beside the textarea, both in one scroller.
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  let area;
  const editorField = {
    name: "body", label: t("templates.body"), type: "custom", wide: true,
    render: (f, attrs) => {
      area = h("textarea", Object.assign({}, attrs, { spellcheck: "false", wrap: "off", autocomplete: "off", "data-v": "" }));
      area.addEventListener("input", () => layout());
      area.addEventListener("keydown", (ev) => {
        // Tab inserts a tab; Escape then Tab leaves the editor (keyboard users).
        if (ev.key === "Tab" && !ev.shiftKey && !area.dataset.escaped) {
          ev.preventDefault();
          area.setRangeText("\t", area.selectionStart, area.selectionEnd, "end");
          area.dispatchEvent(new Event("input", { bubbles: true }));
        }
        if (ev.key === "Escape") area.dataset.escaped = "1";
        else if (ev.key !== "Tab") delete area.dataset.escaped;
      });
      return h("div", { class: "editor" }, gutter, area);
    },
    get: () => area.value,
    set: (el, val) => { area.value = val || ""; },
  };
  const known = (scope) => {
    const names = new Set((custom.items || []).map((p) => p.name));
    for (const p of builtins.items || []) if (scope !== "common" || p.source === "pbx") names.add(p.name);
    return names;
  };
  const scopeOf = () => (f ? f.get("scope") : x.scope);
  // layout numbers the lines and marks those with an unknown placeholder.
  const layout = () => {
    const body = area.value;
    const lines = body.split("\n").length;
    const names = known(scopeOf());
    const bad = new Map();
    for (const p of scan(body)) if (!names.has(p.name) && !bad.has(p.line)) bad.set(p.line, p.name);
    if (lastServerLine && !bad.has(lastServerLine)) bad.set(lastServerLine, "");
    const nums = [];
    for (let i = 1; i <= lines; i++) {
      nums.push(h("div", { class: bad.has(i) ? "bad" : null, "data-line": i }, String(i)));
    }
    gutter.replaceChildren(...nums);
    area.rows = lines + 1;
    area.style.height = "auto";
    area.style.height = area.scrollHeight + "px";
    const unknown = [...bad.entries()].filter(([, n]) => n);
    if (unknown.length) {
      area.classList.add("bad");
      area.setAttribute("aria-invalid", "true");
      problems.replaceChildren(message("error", h("ul", {}, unknown.map(([line, n]) => h("li", { "data-line": line },
        scopeOf() === "common" && (builtins.items || []).some((p) => p.name === n)
          ? t("templates.err.not_common", { name: "%%" + n + "%%", line })
          : t("templates.err.unknown", { name: "%%" + n + "%%", line }))))));
    } else {
      if (!lastServerLine) {
        area.classList.remove("bad");
        area.removeAttribute("aria-invalid");
        // The body is right now: the form's "correct the marked fields" is stale.
        if (f && area.closest("form").querySelectorAll("[aria-invalid=true]").length === 0) f.box.replaceChildren();
      }
      problems.replaceChildren();
    }
    return unknown.length === 0;
  };

  const f = form({
    id: "template-form",
    readOnly: ro,
    values: x,
    fields: [
      { section: t("templates.sec.template") },
      { name: "name", label: t("core.name"), required: true, attrs: { maxlength: 128 } },
      { name: "scope", label: t("templates.scope"), type: "select", help: t("templates.scope_help"),
        options: ["device", "common"].map((s) => ({ value: s, label: t("templates.scope." + s) })) },
      { name: "escape", label: t("templates.escape"), type: "select", help: t("templates.escape_help"),
        options: ["none", "xml"].map((s) => ({ value: s, label: t("templates.escape." + s) })) },
      { name: "content_type", label: t("templates.content_type"), attrs: { list: "content-types" } },
      editorField,
    ],
    errorFields: {},
    buttons: [
      !isNew && canWrite() ? h("button", { type: "button", class: "secondary", id: "template-copy", onclick: (ev) => busy(ev.currentTarget, () => copy(ctx, x, box)) }, t("templates.copy")) : null,
      !isNew && !ro && x.origin !== "builtin" ? h("button", { type: "button", class: "danger", id: "template-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/templates", class: "back" }, t("core.back")),
    ],
    onChange: (vals, form, name) => {
      if (name === "scope") layout();
      if (name === "body") lastServerLine = 0;
      schedulePreview();
    },
    onSubmit: async (vals) => {
      if (!layout()) throw Object.assign(new Error(""), { status: 400, field: "body", local: true });
      const saved = await api(isNew ? "POST" : "PATCH", base(x.origin) + (isNew ? "" : "/" + encodeURIComponent(id)), vals);
      invalidate();
      if (!isNew) await offer("template", saved);
      flash("ok", t("templates.saved", { name: saved.name }));
      ctx.go(["templates"], {});
    },
  });
  // A refusal of the server names the line: mark it too.
  const showError = f.showError.bind(f);
  f.showError = (err) => {
    const m = /line (\d+)/.exec(err.message || "");
    lastServerLine = m ? Number(m[1]) : 0;
    showError(err);
    layout();
  };
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("templates.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("templates.delete_body", { name: x.name })) });
    if (!ok) return;
    try {
      await api("DELETE", base(x.origin) + "/" + encodeURIComponent(id));
      invalidate();
      flash("ok", t("templates.deleted", { name: x.name }));
      ctx.go(["templates"], {});
    } catch (err) { f.showError(err); }
  };

  // The placeholder list: click (or Enter) inserts it at the cursor.
  const phFilter = h("input", { type: "search", id: "ph-filter", "aria-label": t("templates.ph_filter"), placeholder: t("templates.ph_filter") });
  const phButtons = h("div", { id: "ph-list" });
  const renderPh = () => {
    const needle = phFilter.value.trim().toUpperCase();
    const all = [...(custom.items || []).map((p) => ({ name: p.name, source: "custom", description: p.description })), ...(builtins.items || [])];
    const names = known(scopeOf());
    phButtons.replaceChildren(...all.filter((p) => names.has(p.name) && (!needle || p.name.includes(needle))).map((p) =>
      h("button", { type: "button", "data-ph": p.name, disabled: ro, onclick: () => {
        area.focus();
        area.setRangeText("%%" + p.name + "%%", area.selectionStart, area.selectionEnd, "end");
        area.dispatchEvent(new Event("input", { bubbles: true }));
      } }, h("span", { class: "name", "data-v": "" }, "%%" + p.name + "%%"),
      h("span", { class: "desc" }, p.source === "custom" ? v(p.description || "") : phDescription(p)))));
  };
  phFilter.addEventListener("input", renderPh);
  f.el.addEventListener("change", (ev) => { if (ev.target.name === "scope") renderPh(); });

  // Live preview against a device of the tenant.
  const deviceSel = h("select", { id: "preview-device", "aria-label": t("templates.preview_device") });
  const deviceSearch = h("input", { type: "search", id: "preview-device-search", "aria-label": t("templates.preview_search"), placeholder: t("templates.preview_search"), autocomplete: "off" });
  const fillDevices = async () => {
    const r = await api("GET", tbase() + "/devices" + q({ q: deviceSearch.value.trim(), limit: 50 }));
    const cur = deviceSel.value;
    deviceSel.replaceChildren(...(r.items || []).map((d) => h("option", { value: d.id, "data-v": "" },
      d.account_extension ? `${d.mac} (${d.account_extension})` : d.mac)));
    if ([...deviceSel.options].some((o) => o.value === cur)) deviceSel.value = cur;
    schedulePreview();
  };
  deviceSearch.addEventListener("input", debounce(fillDevices, 250));
  deviceSel.addEventListener("change", () => schedulePreview());
  const runPreview = async () => {
    if (!canWrite()) return;
    const vals = f.values();
    if (vals.scope === "device" && !deviceSel.value) {
      output.replaceChildren(message("info", t("templates.preview_no_device")));
      return;
    }
    try {
      const r = await api("POST", tbase() + "/templates/preview", { body: vals.body, scope: vals.scope, escape: vals.escape, device: vals.scope === "device" ? deviceSel.value : "" });
      output.replaceChildren(h("pre", { "data-v": "", id: "template-preview-body" }, r.rendered));
    } catch (err) {
      output.replaceChildren(errorMessage(err, err.field === "body" ? t("templates.body") : ""));
    }
  };
  const schedulePreview = debounce(runPreview, 400);

  layout();
  renderPh();
  if (canWrite()) fillDevices().catch(() => {});
  ctx.show(isNew ? t("templates.new_title") : t("templates.edit_title", { name: x.name }),
    ro ? message("info", x.origin === "builtin" ? t("templates.builtin_ro") : t("core.read_only")) : null,
    box,
    h("datalist", { id: "content-types" }, ["text/plain", "text/xml", "application/xml"].map((c) => h("option", { value: c }))),
    h("div", { class: "editor-wrap" },
      h("div", {}, f.el, problems),
      h("aside", { "aria-label": t("templates.placeholders") },
        h("h2", {}, t("templates.placeholders")), phFilter, h("div", { class: "ph-list" }, phButtons))),
    canWrite() ? section(t("templates.preview"),
      h("div", { class: "picker" }, deviceSearch, deviceSel), output) : null);
}
