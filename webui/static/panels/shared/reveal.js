// The audited reveal of a secret. Every API view masks secrets (SIP, phone
// and provisioning passwords, rendered files) for every role; a secret comes
// in clear only from POST .../reveal, which writes an audit row and which an
// auditor may not call. The control is therefore offered only to the roles
// that may write (admin, tenant admin), asks first saying that the reveal is
// recorded, and shows the value once, as text.
"use strict";

import { h, t, api, tbase, canWrite, confirmDialog, busy, errorMessage } from "../../core/kit.js";

/**
 * revealButton is the "Show" control of one secret, or null for a role that
 * may not reveal.
 *
 * id      the button's id; the value is shown in the element id + "-value"
 * path    the reveal's path under the tenant ("/accounts/<id>/reveal")
 * key     the answer's field holding the secret ("sip_password")
 * label   the button's text (default "Show")
 * what    the secret, named for the dialog (a catalog message)
 * onValue (answer) => void: shows the answer itself (a file); without it the
 *         value goes, as text, beside the button
 */
export function revealButton({ id, path, key, what, label, onValue }) {
  if (!canWrite()) return null;
  const out = h("span", { class: "revealed", id: id + "-value", "aria-live": "polite" });
  const btn = h("button", { type: "button", class: "secondary", id, "data-reveal": "" }, label || t("reveal.show"));
  btn.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: t("reveal.title"),
      body: [h("p", {}, t("reveal.body", { what })), h("p", {}, t("reveal.audited"))],
      confirm: t("reveal.confirm"),
    });
    if (!ok) return;
    await busy(btn, async () => {
      let res;
      try {
        res = await api("POST", tbase() + path);
      } catch (err) {
        out.replaceChildren(errorMessage(err));
        return;
      }
      // Once: a second look is a second reveal, asked for on a fresh page.
      btn.hidden = true;
      if (onValue) {
        onValue(res);
        out.replaceChildren(h("span", { class: "muted" }, t("reveal.recorded")));
        return;
      }
      const val = res[key] || "";
      out.replaceChildren(
        val ? h("code", { class: "mono secret", "data-v": "" }, val) : h("em", {}, t("reveal.empty")),
        " ", h("span", { class: "muted" }, t("reveal.recorded")));
    });
  });
  return h("span", { class: "reveal" }, btn, out);
}
