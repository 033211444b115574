// Forms from a list of field specs: every input has a label, errors (ours or the
// API's) name the field, mark it (aria-invalid, red border, the message under it)
// and move the focus there. A read-only form (auditor) has every input disabled
// and no submit button.
"use strict";

import { h, uid } from "./dom.js";
import { t } from "./i18n.js";
import { errorContent, message, busy } from "./ui.js";

/**
 * form builds a form.
 *
 * spec.id        the form's id (tests and CSS find it by it)
 * spec.fields    field specs (below), or {section: "title"} to start a group
 * spec.values    initial values by name
 * spec.readOnly  disable everything (no submit)
 * spec.submit    the submit button's label (default "Save")
 * spec.onSubmit  async (values, form) => ...; a thrown APIError is shown
 * spec.onChange  (values, form, name) => ... after any input
 * spec.buttons   extra nodes beside the submit button
 * spec.errorFields maps an API field name to a field of the form ({file: "mac_format"})
 * spec.inline    lay the fields out on one line (filters, small add forms)
 *
 * A field spec: {name, label, type: text|password|email|number|textarea|select|
 * checkbox|custom, options: [{value, label, data}] or (values) => [...],
 * placeholder (a translated hint), help, required, show: (values) => bool,
 * validate: (value, values) => message|"", empty (number fields: the value of an
 * empty input, default 0), omitEmpty (leave out when empty: write-only
 * secrets), attrs (extra attributes), render/get/set (custom fields)}.
 * Option labels are console text unless data is true (a name from the API).
 */
export function form(spec) {
  const f = new Form(spec);
  return f;
}

class Form {
  constructor(spec) {
    this.spec = spec;
    this.fields = [];
    this.byName = {};
    this.box = h("div", { class: "form-msg", "aria-live": "polite" });
    const body = [];
    let group = null;
    for (const fs of spec.fields) {
      if (!fs) continue;
      if (fs.section !== undefined) {
        group = h("fieldset", { class: "grid" }, fs.section ? h("legend", {}, fs.section) : null);
        if (fs.id) group.id = fs.id;
        body.push(group);
        continue;
      }
      const fld = this.makeField(fs);
      this.fields.push(fld);
      this.byName[fs.name] = fld;
      if (group) group.append(fld.wrap);
      else body.push(fld.wrap);
    }
    this.submitButton = spec.readOnly ? null : h("button", { type: "submit" }, spec.submit || t("core.save"));
    const buttons = h("div", { class: "buttons" }, this.submitButton, spec.buttons || []);
    this.el = h("form", { id: spec.id, class: spec.inline ? "form inline" : "form", novalidate: true, method: "post", action: "#" },
      this.box, spec.inline ? body : h("div", { class: "fields" }, body), buttons);
    this.el.addEventListener("submit", (ev) => { ev.preventDefault(); this.submit(); });
    this.el.addEventListener("input", (ev) => this.changed(ev));
    this.el.addEventListener("change", (ev) => this.changed(ev));
    for (const [k, val] of Object.entries(spec.values || {})) this.set(k, val, true);
    this.refresh();
    // Read-only (an auditor): every input disabled, the buttons of custom
    // fields (add a row, remove one) gone; after the values, which may add rows.
    if (spec.readOnly) {
      for (const el of this.el.querySelectorAll("input, select, textarea")) el.disabled = true;
      for (const el of this.el.querySelectorAll(".fields button, fieldset button")) el.hidden = true;
    }
  }

  makeField(fs) {
    const id = uid("f-" + fs.name.replace(/[^a-z0-9_-]/gi, "_"));
    const errID = id + "-err", helpID = id + "-help";
    const described = [fs.help ? helpID : "", errID].filter(Boolean).join(" ");
    let input;
    const attrs = Object.assign({ id, name: fs.name, "aria-describedby": described, required: !!fs.required,
      placeholder: fs.placeholder }, fs.attrs || {});
    switch (fs.type) {
      case "textarea":
        input = h("textarea", attrs);
        break;
      case "select":
        input = h("select", attrs);
        break;
      case "checkbox":
        input = h("input", Object.assign(attrs, { type: "checkbox" }));
        break;
      case "custom":
        input = fs.render(this, attrs);
        break;
      default:
        input = h("input", Object.assign(attrs, { type: fs.type || "text" }));
    }
    const err = h("div", { class: "field-error", id: errID, hidden: true });
    const help = fs.help ? h("div", { class: "help", id: helpID }, fs.help) : null;
    let wrap;
    if (fs.type === "checkbox") {
      wrap = h("div", { class: "field check", "data-field": fs.name }, h("label", { for: id }, input, h("span", {}, fs.label)), help, err);
    } else {
      wrap = h("div", { class: "field" + (fs.wide ? " wide" : ""), "data-field": fs.name },
        h("label", { for: id }, fs.label, fs.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null), input, help, err);
    }
    return { spec: fs, input, wrap, err, lastOptions: null };
  }

  /** input returns the element of a field (for tests and custom wiring). */
  input(name) { return this.byName[name] && this.byName[name].input; }

  /** get reads one field. */
  get(name) {
    const fld = this.byName[name];
    if (!fld) return undefined;
    const fs = fld.spec, el = fld.input;
    if (fs.get) return fs.get(el);
    if (fs.type === "checkbox") return el.checked;
    if (fs.type === "number") {
      if (el.value.trim() === "") return fs.empty === undefined ? 0 : fs.empty;
      return Number(el.value);
    }
    return el.value;
  }

  /** set writes one field. */
  set(name, val, initial) {
    const fld = this.byName[name];
    if (!fld) return;
    const fs = fld.spec, el = fld.input;
    if (fs.set) fs.set(el, val);
    else if (fs.type === "checkbox") el.checked = !!val;
    else if (fs.type === "select") {
      fld.want = val === undefined || val === null ? "" : String(val);
      el.value = fld.want;
    } else el.value = val === undefined || val === null ? "" : String(val);
    if (!initial) this.refresh();
  }

  /**
   * values reads every field (write-only ones only when filled in). Fields
   * marked noSubmit (helpers such as a brand that filters the models) are
   * included; payload() leaves them out.
   */
  values() {
    const out = {};
    for (const fld of this.fields) {
      const val = this.get(fld.spec.name);
      if (fld.spec.omitEmpty && (val === "" || val === undefined)) continue;
      out[fld.spec.name] = val;
    }
    return out;
  }

  /** payload is values() without the noSubmit fields: what is sent to the API. */
  payload(vals) {
    const out = Object.assign({}, vals || this.values());
    for (const fld of this.fields) if (fld.spec.noSubmit) delete out[fld.spec.name];
    return out;
  }

  /**
   * refresh recomputes option lists and which fields are shown. Lists depend
   * on earlier fields (brand -> model -> template), so each is computed from
   * the values as they stand once the lists before it are rebuilt. A select
   * keeps the value it was given (want) until its list offers it.
   */
  refresh() {
    for (const fld of this.fields) {
      const fs = fld.spec;
      if (fs.type !== "select") continue;
      const opts = typeof fs.options === "function" ? fs.options(this.values()) : fs.options || [];
      const sig = JSON.stringify(opts.map((o) => [o.value, String(o.label), !!o.data, o.group || ""]));
      if (sig === fld.lastOptions) continue;
      fld.lastOptions = sig;
      const cur = fld.want !== undefined ? fld.want : fld.input.value;
      fld.input.replaceChildren(...optionNodes(opts));
      if (opts.some((o) => String(o.value) === cur)) fld.input.value = cur;
      else fld.input.selectedIndex = 0;
    }
    const vals = this.values();
    for (const fld of this.fields) if (fld.spec.show) fld.wrap.hidden = !fld.spec.show(vals);
  }

  changed(ev) {
    const name = ev.target && ev.target.name;
    if (name && this.byName[name]) {
      const fld = this.byName[name];
      if (fld.spec.type === "select") fld.want = fld.input.value;
      this.clearField(fld);
    }
    this.refresh();
    if (this.spec.onChange) this.spec.onChange(this.values(), this, name);
  }

  clearField(fld) {
    fld.input.classList.remove("bad");
    fld.input.removeAttribute("aria-invalid");
    fld.err.hidden = true;
    fld.err.replaceChildren();
  }

  clearErrors() {
    for (const fld of this.fields) this.clearField(fld);
    this.box.replaceChildren();
  }

  /** mark flags one field with a message under it. */
  mark(name, text) {
    const fld = this.byName[name];
    if (!fld) return false;
    fld.input.classList.add("bad");
    fld.input.setAttribute("aria-invalid", "true");
    fld.err.hidden = false;
    fld.err.replaceChildren(text);
    return true;
  }

  /** check runs the form's own validation; it marks and returns the bad fields. */
  check() {
    const vals = this.values();
    const bad = [];
    for (const fld of this.fields) {
      const fs = fld.spec;
      if (fld.wrap.hidden || fld.input.disabled) continue;
      const val = this.get(fs.name);
      let msg = "";
      if (fs.required && (val === "" || val === undefined || val === null)) msg = t("core.err.required", { field: fs.label });
      else if (fs.type === "number" && fld.input.value !== "" && !Number.isFinite(Number(fld.input.value))) msg = t("core.err.number", { field: fs.label });
      else if (fs.validate) msg = fs.validate(val, vals) || "";
      if (msg) {
        this.mark(fs.name, msg);
        bad.push(fld);
      }
    }
    return bad;
  }

  /** showError shows an API error: the field it names is marked and focused. */
  showError(err) {
    this.clearErrors();
    let name = err.field || "";
    // "endpoints[0].id" or "file.prefix": the form's field is the first part.
    if (name && !this.byName[name]) name = name.split(/[[.]/)[0];
    if (this.spec.errorFields && this.spec.errorFields[name]) name = this.spec.errorFields[name];
    const fld = this.byName[name];
    if (fld) {
      this.mark(name, h("span", {}, errorContent(err, fld.spec.label)[0]));
      if (fld.wrap.hidden) fld.wrap.hidden = false;
    }
    this.box.replaceChildren(message("error", ...errorContent(err, fld ? fld.spec.label : "")));
    (fld ? fld.input : this.box).focus && (fld ? fld.input : this.box).focus();
  }

  /** showMessage shows a note at the top of the form. */
  showMessage(kind, text) { this.box.replaceChildren(message(kind, text)); }

  async submit() {
    this.clearErrors();
    const bad = this.check();
    if (bad.length) {
      this.box.replaceChildren(message("error", h("strong", {}, t("core.err.check_fields")),
        h("ul", {}, bad.map((f) => h("li", {}, f.err.textContent)))));
      bad[0].input.focus();
      return;
    }
    if (!this.spec.onSubmit) return;
    const run = async () => {
      try {
        await this.spec.onSubmit(this.values(), this);
      } catch (err) {
        if (err && err.sessionEnded) return;
        this.showError(err);
      }
    };
    if (this.submitButton) await busy(this.submitButton, run);
    else await run();
  }
}

/** optionNodes builds <option>s; data: true marks a label that is API data. */
export function optionNodes(opts) {
  const out = [];
  let group = null, groupLabel = null;
  for (const o of opts) {
    const opt = h("option", { value: o.value, disabled: !!o.disabled, "data-v": o.data ? "" : null }, o.label);
    if (o.group !== undefined && o.group !== groupLabel) {
      groupLabel = o.group;
      group = h("optgroup", { label: o.group, "data-v": o.groupData ? "" : null });
      out.push(group);
    } else if (o.group === undefined) {
      group = null;
      groupLabel = null;
    }
    (group || { append: (x) => out.push(x) }).append(opt);
  }
  return out;
}

/** choose is the "choose…" first option of a required select. */
export function choose(label) { return { value: "", label: label || t("core.choose") }; }
