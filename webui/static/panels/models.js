// Lista dei modelli di dispositivo: brands and models, each with the rule that
// names its file (prefix + MAC in a format + suffix, shown for an example MAC
// as it is typed), its default template and its common files. Built-in models
// are read-only: copy one to change it. The target firmware (one of the
// tenant's uploaded files) is chosen per tenant for every model, built-in
// ones too: a field of the form of the tenant's own models, a form of its own
// for the others.
"use strict";

import {
  h, mono, tag, t, plain, api, tbase, S, canWrite, form, choose, table, register, flash, confirmDialog,
  errorMessage, message, busy,
} from "../core/kit.js";
import { offer } from "./shared/resync.js";
import { catalog, invalidate, brandName, brandOptions } from "./shared/catalog.js";

const FORMATS = ["AABBCCDDEEFF", "aabbccddeeff", "AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aa-bb-cc-dd-ee-ff"];
const EXAMPLE = [0x00, 0x15, 0x65, 0x12, 0x34, 0x56];
const NEW_BRAND = "\u0000new";

/** fileName applies a filename rule to a MAC given as 6 bytes, as the server does. */
export function fileName(rule, mac) {
  const f = rule.mac_format || "AABBCCDDEEFF";
  const lower = f === f.toLowerCase();
  const sep = f.includes(":") ? ":" : f.includes("-") ? "-" : "";
  let hex = mac.map((b) => b.toString(16).padStart(2, "0"));
  hex = hex.map((x) => (lower ? x : x.toUpperCase()));
  return (rule.prefix || "") + hex.join(sep) + (rule.suffix || "");
}

register({
  id: "models", path: "models", group: "provisioning", order: 50, nav: "models.nav",
  pages: async () => {
    const cat = await catalog();
    const own = cat.models.find((m) => !m.builtin);
    return ["models/new", "models/" + cat.models.find((m) => m.builtin).id, own && "models/" + own.id].filter(Boolean);
  },
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

async function copyModel(ctx, m, box) {
  try {
    const c = await api("POST", tbase() + "/models/" + encodeURIComponent(m.id) + "/copy", { name: plain("models.copy_name", { name: m.name }) });
    invalidate();
    flash("ok", t("models.copied", { name: m.name }));
    ctx.go(["models", c.id]);
  } catch (err) { box.replaceChildren(errorMessage(err)); }
}

async function listPage(ctx) {
  invalidate();
  const cat = await catalog({ templates: true });
  const box = h("div");
  const brand = ctx.query.get("brand") || "";
  const tmplName = (id) => (cat.templates.find((x) => x.id === id) || { name: id }).name;
  const list = table({
    id: "models",
    caption: t("models.nav"),
    columns: [
      { id: "brand", label: t("models.brand"), value: (m) => brandName(cat, m.brand) },
      { id: "name", label: t("core.name"), value: (m) => m.name },
      { id: "file", label: t("models.example"), value: (m) => mono(fileName(m.file, EXAMPLE)) },
      { id: "template", label: t("models.template"), value: (m) => tmplName(m.template) },
      { id: "origin", label: t("models.origin"), value: (m) => (m.builtin ? tag(t("models.builtin"), "") : tag(t("models.own"), "good")) },
      canWrite() ? { id: "actions", label: t("core.actions"), cls: "actions", value: (m) =>
        h("button", { type: "button", class: "secondary", "data-copy": m.id, onclick: (ev) => busy(ev.currentTarget, () => copyModel(ctx, m, box)) }, t("models.copy")) } : null,
    ].filter(Boolean),
    rows: cat.models.filter((m) => !brand || m.brand === brand),
    attrs: (m) => ({ "data-id": m.id }),
    onOpen: (m) => ctx.go(["models", m.id]),
    empty: t("models.empty"),
  });
  const sel = h("select", { id: "model-brand-filter", "aria-label": t("models.brand") },
    h("option", { value: "" }, t("models.all_brands")),
    brandOptions(cat).map((b) => h("option", { value: b.value, selected: b.value === brand, "data-v": "" }, b.label)));
  sel.addEventListener("change", () => ctx.setQuery({ brand: sel.value }));
  ctx.show(t("models.nav"), h("p", { class: "muted" }, t("models.intro")),
    h("div", { class: "toolbar" }, sel, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/models/new", class: "button", id: "add-model", role: "button" }, t("models.add")) : null),
    box, list);
}

// commonFilesField edits the list of {name, template} common files.
function commonFilesField(templates) {
  let rowsBox;
  const row = (cf) => {
    const nameInput = h("input", { "data-cf": "name", value: cf.name || "", "aria-label": t("models.cf_name"), placeholder: t("models.cf_name") });
    const sel = h("select", { "data-cf": "template", "aria-label": t("models.cf_template") },
      h("option", { value: "" }, t("core.choose")),
      templates.map((x) => h("option", { value: x.id, selected: x.id === cf.template, "data-v": "" }, x.name)));
    const r = h("div", { class: "picker cf-row" }, nameInput, sel,
      h("button", { type: "button", class: "danger", onclick: () => { r.remove(); rowsBox.dispatchEvent(new Event("change", { bubbles: true })); } }, t("models.cf_remove")));
    return r;
  };
  return {
    name: "common_files", label: t("models.common_files"), type: "custom", wide: true, help: t("models.common_files_help"),
    render: (f, attrs) => {
      rowsBox = h("div", { id: attrs.id, "aria-describedby": attrs["aria-describedby"], tabindex: "-1" });
      const add = h("button", { type: "button", class: "secondary", id: "cf-add", onclick: () => { rowsBox.append(row({})); rowsBox.lastChild.querySelector("input").focus(); } }, t("models.cf_add"));
      return h("div", {}, rowsBox, add);
    },
    get: () => [...rowsBox.querySelectorAll(".cf-row")].map((r) => ({
      name: r.querySelector('[data-cf="name"]').value.trim(), template: r.querySelector('[data-cf="template"]').value,
    })).filter((cf) => cf.name || cf.template),
    set: (el, val) => { rowsBox.replaceChildren(...(val || []).map(row)); },
  };
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  invalidate();
  const [cat, global, assets] = await Promise.all([catalog({ templates: true }), api("GET", "/models"), api("GET", tbase() + "/assets")]);
  // A user model shared by every tenant is changed through /models (admins).
  const isGlobal = !isNew && (global.items || []).some((x) => x.id === id && !x.builtin);
  const base = isGlobal ? "/models" : tbase() + "/models";
  const m = isNew ? { brand: "", name: "", file: { prefix: "", mac_format: "aabbccddeeff", suffix: ".cfg" }, template: "", common_files: [], lines: 1 }
    : cat.models.find((x) => x.id === id);
  if (!m) throw Object.assign(new Error("not found"), { status: 404 });
  const ro = !canWrite() || m.builtin || (isGlobal && S.me.role !== "admin");
  const box = h("div");
  const example = h("output", { id: "model-example", class: "example", "data-v": "" });
  // The firmware goes with the tenant's own models' other fields; a built-in
  // or global model gets a form of its own (the tenant's choice, not the model).
  const fwInForm = !ro && !isGlobal;
  const fwOptions = [{ value: "", label: t("models.firmware_none") },
    ...(assets.items || []).map((a) => ({ value: a.name, label: a.name, data: true }))];
  const fwField = { name: "firmware", label: t("models.firmware"), type: "select", options: fwOptions,
    help: (assets.items || []).length ? t("models.firmware_help") : t("models.firmware_no_files") };
  const devTemplates = cat.templates.filter((x) => x.scope === "device");
  const comTemplates = cat.templates.filter((x) => x.scope === "common");
  const f = form({
    id: "model-form",
    readOnly: ro,
    values: { brand: m.brand, new_brand: "", name: m.name, prefix: m.file.prefix, mac_format: m.file.mac_format, suffix: m.file.suffix,
      template: m.template, common_files: m.common_files, lines: m.lines, firmware: m.firmware || "" },
    fields: [
      { section: t("models.sec.model") },
      { name: "brand", label: t("models.brand"), type: "select", required: true,
        options: [choose(), ...brandOptions(cat), { value: NEW_BRAND, label: t("models.new_brand") }] },
      { name: "new_brand", label: t("models.new_brand_name"), show: (x) => x.brand === NEW_BRAND, required: true, attrs: { maxlength: 64 } },
      { name: "name", label: t("core.name"), required: true, attrs: { maxlength: 64 } },
      { name: "lines", label: t("models.lines"), type: "number", attrs: { min: 1, max: 128 }, validate: (x) => (x < 1 || x > 128 ? t("models.err.lines") : "") },
      { name: "template", label: t("models.template"), type: "select", required: true,
        options: [choose(), ...devTemplates.map((x) => ({ value: x.id, label: x.name, data: true }))] },
      { section: t("models.sec.file") },
      { name: "prefix", label: t("models.prefix"), help: t("models.prefix_help"), validate: badChars },
      { name: "mac_format", label: t("models.mac_format"), type: "select", options: FORMATS.map((x) => ({ value: x, label: x, data: true })) },
      { name: "suffix", label: t("models.suffix"), help: t("models.suffix_help"), validate: badChars },
      commonFilesField(comTemplates),
      fwInForm ? { section: t("models.sec.firmware") } : null,
      fwInForm ? fwField : null,
    ],
    errorFields: { file: "mac_format" },
    buttons: [
      !isNew && canWrite() ? h("button", { type: "button", class: "secondary", id: "model-copy", onclick: (ev) => busy(ev.currentTarget, () => copyModel(ctx, m, box)) }, t("models.copy")) : null,
      !isNew && !ro ? h("button", { type: "button", class: "danger", id: "model-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/models", class: "back" }, t("core.back")),
    ],
    onChange: (vals) => showExample(vals),
    onSubmit: async (vals) => {
      const body = {
        brand: vals.brand === NEW_BRAND ? vals.new_brand.trim() : vals.brand, name: vals.name, lines: vals.lines, template: vals.template,
        file: { prefix: vals.prefix, mac_format: vals.mac_format, suffix: vals.suffix }, common_files: vals.common_files,
      };
      if (fwInForm) body.firmware = vals.firmware;
      const saved = await api(isNew ? "POST" : "PATCH", base + (isNew ? "" : "/" + encodeURIComponent(id)), body);
      invalidate();
      if (!isNew) await offer("model", saved);
      flash("ok", t("models.saved", { name: saved.name }));
      ctx.go(["models"], {});
    },
  });
  const fileRow = h("div", { class: "field wide" }, h("span", { class: "muted" }, t("models.example_for")), example);
  f.byName.suffix.wrap.after(fileRow);
  const showExample = (vals) => { example.value = fileName(vals, EXAMPLE); example.textContent = example.value; };
  showExample(f.values());
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("models.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("models.delete_body", { name: m.name })) });
    if (!ok) return;
    try {
      await api("DELETE", base + "/" + encodeURIComponent(id));
      invalidate();
      flash("ok", t("models.deleted", { name: m.name }));
      ctx.go(["models"], {});
    } catch (err) { f.showError(err); }
  };
  // A model the tenant does not own: its firmware alone, in the tenant.
  const fw = isNew || fwInForm ? null : form({
    id: "model-firmware-form",
    readOnly: !canWrite(),
    values: { firmware: m.firmware || "" },
    fields: [{ section: t("models.sec.firmware") }, fwField],
    onSubmit: async (vals) => {
      const saved = await api("PATCH", tbase() + "/models/" + encodeURIComponent(id), { firmware: vals.firmware });
      invalidate();
      await offer("model", saved);
      flash("ok", t("models.firmware_saved", { name: saved.name }));
      ctx.reload();
    },
  });
  ctx.show(isNew ? t("models.new_title") : t("models.edit_title", { name: `${brandName(cat, m.brand)} ${m.name}` }),
    m.builtin ? message("info", t("models.builtin_ro")) : !canWrite() ? message("info", t("core.read_only")) : null, box, f.el,
    fw ? h("p", { class: "muted" }, t("models.firmware_intro")) : null, fw ? fw.el : null);
}

function badChars(x) {
  return /[/\\%?#\u0000-\u001f]/.test(x || "") ? t("models.err.chars") : "";
}
