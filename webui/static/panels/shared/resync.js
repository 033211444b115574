// Resync and reboot of phones: the buttons of the device list and form, the
// offer after a template or model save, and the per-device results dialog.
// Everything goes through POST /tenants/{t}/resync (see the resync package).
"use strict";

import { h, mono, tag, t, api, tbase, canWrite, feature, S, confirmDialog, busy, errorMessage, flash, table } from "../../core/kit.js";

/** available: the daemon can reach the PBX and the role may send. */
export function available() { return feature("resync") && canWrite(); }

const good = { sent_ami: "good", sent_direct: "good", not_registered: "warn", no_account: "warn", disabled: "" };

/**
 * run sends the request (devices, template, model or all; reboot) and shows
 * the results dialog; an error of the request itself goes into errBox (or,
 * without one, to the next page). It resolves once the dialog is closed
 * (false when the request failed).
 */
export async function run(body, errBox) {
  let rep;
  try {
    rep = await api("POST", tbase() + "/resync", body);
  } catch (err) {
    if (errBox) errBox.replaceChildren(errorMessage(err));
    else flash("error", t("resync.failed", { error: err.message }));
    return false;
  }
  await results(rep);
  return true;
}

/** results shows one row per device, and the counts, in a modal dialog. */
export function results(rep) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "confirm wide", id: "resync-results", "aria-labelledby": "resync-results-title" });
    const done = () => { dlg.close(); dlg.remove(); resolve(); };
    const counts = Object.entries(rep.counts || {}).map(([st, n]) => tag(t("resync.count." + st, { n }), good[st] ?? "bad"));
    dlg.append(
      h("h2", { id: "resync-results-title" }, rep.action === "reboot" ? t("resync.results_reboot") : t("resync.results_resync")),
      h("p", { class: "counts", id: "resync-counts" }, ...(counts.length ? counts : [t("resync.none")])),
      table({
        id: "resync-table",
        columns: [
          { id: "mac", label: t("resync.col.mac"), value: (r) => mono(r.mac) },
          { id: "extension", label: t("resync.col.extension"), value: (r) => r.extension || "" },
          { id: "status", label: t("resync.col.status"), value: (r) => tag(t("resync.status." + r.status), good[r.status] ?? "bad") },
          { id: "via", label: t("resync.col.via"), value: (r) => (r.via ? t("resync.via." + r.via) : "") },
          { id: "event", label: t("resync.col.event"), value: (r) => (r.event ? mono(r.event) : "") },
          { id: "detail", label: t("resync.col.detail"), value: (r) => r.detail || "" },
        ],
        rows: rep.results || [],
        attrs: (r) => ({ "data-mac": r.mac, "data-status": r.status }),
        empty: t("resync.none"),
      }),
      h("div", { class: "buttons" }, h("button", { type: "button", id: "resync-close", onclick: done }, t("resync.close"))));
    dlg.addEventListener("cancel", (ev) => { ev.preventDefault(); done(); });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector("#resync-close").focus();
  });
}

/** deviceButtons are "Resync" and "Reboot" for one device (a reboot asks first). */
export function deviceButtons(dev, errBox) {
  if (!available()) return [];
  const send = async (ev, reboot) => {
    const button = ev.currentTarget; // gone from the event once the dialog was awaited
    if (reboot && !(await confirmDialog({ title: t("resync.reboot_title"), danger: true, confirm: t("resync.reboot"),
      body: h("p", {}, t("resync.reboot_one_body", { mac: dev.mac })) }))) return;
    await busy(button, () => run({ devices: [dev.id], reboot }, errBox));
  };
  return [
    h("button", { type: "button", class: "secondary", id: "device-resync", onclick: (ev) => send(ev, false) }, t("resync.resync")),
    h("button", { type: "button", class: "secondary", id: "device-reboot", onclick: (ev) => send(ev, true) }, t("resync.reboot")),
  ];
}

/** tenantButtons are "Resync all" and "Reboot all" for the device list. */
export function tenantButtons(total, errBox) {
  if (!available() || !total) return [];
  const send = async (ev, reboot) => {
    const button = ev.currentTarget;
    const ok = await confirmDialog({ title: reboot ? t("resync.reboot_title") : t("resync.all_title"), danger: reboot,
      confirm: reboot ? t("resync.reboot_all") : t("resync.resync_all"),
      body: h("p", {}, reboot ? t("resync.reboot_all_body", { n: total }) : t("resync.all_body", { n: total })) });
    if (ok) await busy(button, () => run({ all: true, reboot }, errBox));
  };
  return [
    h("button", { type: "button", class: "secondary", id: "devices-resync-all", onclick: (ev) => send(ev, false) }, t("resync.resync_all")),
    h("button", { type: "button", class: "secondary", id: "devices-reboot-all", onclick: (ev) => send(ev, true) }, t("resync.reboot_all")),
  ];
}

/**
 * offer follows a template or model save: when devices of this tenant use
 * it, it asks whether to resync them now (they would otherwise wait for their
 * periodic check) and, if so, sends and shows the results. kind: "template"
 * or "model"; saved: the save's answer, with its "resync" hint.
 */
export async function offer(kind, saved) {
  const hint = saved && saved.resync;
  if (!available() || !hint) return;
  const n = hint.tenants ? hint.tenants[S.tenant] || 0 : hint.devices || 0;
  if (!n) return;
  const ok = await confirmDialog({ title: t("resync.offer_title"), confirm: t("resync.offer_now"),
    body: h("p", { id: "resync-offer" }, kind === "model" ? t("resync.offer_model", { n, name: saved.name }) : t("resync.offer_template", { n, name: saved.name })) });
  if (ok) await run(kind === "model" ? { model: saved.id } : { template: saved.id }, null);
}
