// Shared widgets: messages, flash notes carried to the next page, the confirm
// dialog and the way API errors are shown.
"use strict";

import { h, v } from "./dom.js";
import { t } from "./i18n.js";

/** message is a status line (kind: ok, error, warn, info). */
export function message(kind, ...content) {
  return h("div", { class: "msg " + kind, role: kind === "error" ? "alert" : "status" }, ...content);
}

let pending = null;
/** flash keeps a message for the next page shown (after a save, a delete). */
export function flash(kind, text) { pending = { kind, text }; }
/** takeFlash returns and forgets the pending flash message, as a node. */
export function takeFlash() {
  const f = pending;
  pending = null;
  return f ? message(f.kind, f.text) : null;
}

/**
 * errorContent explains an API error in the console's language: a translated
 * headline (naming the field by its label when the form knows it) and the API's
 * own detail, which is data (the API speaks English, like the CLI).
 */
export function errorContent(err, fieldLabel) {
  let head;
  switch (err.status) {
    case 0: head = t("core.err.network"); break;
    case 401: head = t("core.err.unauthorized"); break;
    case 403: head = t("core.err.forbidden"); break;
    case 404: head = t("core.err.not_found"); break;
    case 409: head = fieldLabel ? t("core.err.conflict_field", { field: fieldLabel }) : t("core.err.conflict"); break;
    case 413: head = t("core.err.too_large"); break;
    case 429: head = t("core.err.throttled"); break;
    case 503: head = t("core.err.unavailable"); break;
    default:
      if (err.status >= 500) head = t("core.err.server");
      else if (err.local) head = t("core.err.check_fields");
      else head = fieldLabel ? t("core.err.field", { field: fieldLabel }) : t("core.err.refused");
  }
  const out = [h("strong", {}, head)];
  if (err.message && !err.local) out.push(h("span", { class: "detail" }, v(err.message)));
  return out;
}

/** errorMessage is an error box for err. */
export function errorMessage(err, fieldLabel) {
  return message("error", ...errorContent(err, fieldLabel));
}

/**
 * confirmDialog asks before something that cannot be undone by the same button:
 * a modal <dialog> (focus stays inside, Esc cancels). It resolves to true on
 * confirm. body: nodes saying what will happen.
 */
export function confirmDialog({ title, body, confirm, danger }) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" });
    const done = (ok) => {
      dlg.close();
      dlg.remove();
      resolve(ok);
    };
    dlg.append(
      h("h2", { id: "confirm-title" }, title),
      h("div", { class: "body" }, body),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "secondary", id: "confirm-cancel", onclick: () => done(false) }, t("core.cancel")),
        h("button", { type: "button", class: danger ? "danger solid" : "", id: "confirm-ok", onclick: () => done(true) }, confirm || t("core.confirm"))));
    dlg.addEventListener("cancel", (ev) => { ev.preventDefault(); done(false); });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector("#confirm-cancel").focus();
  });
}

/** busy disables a button while an async action runs, then restores it. */
export async function busy(button, f) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await f();
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
  }
}

/** section is a titled panel. */
export function section(title, ...content) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...content);
}

/** kv is a two-column table of label/value pairs (values: nodes or data). */
export function kv(rows, id) {
  return h("table", { class: "kv", id },
    h("tbody", {}, rows.filter(Boolean).map(([label, value]) =>
      h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value instanceof Node ? value : v(value))))));
}
