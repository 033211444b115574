// Impostazioni PBX: what the tenant's phones are told about the PBX (SIP
// server, ports, transport, NTP, time zone, language, voicemail, how often to
// re-check) and how the provisioning tree is protected (HTTP authentication).
"use strict";

import { h, v, mono, t, api, tbase, canWrite, form, register, flash, message, section, S, lang } from "../core/kit.js";
import { revealButton } from "./shared/reveal.js";

const PHONE_LANGUAGES = ["it", "en", "de", "fr", "es", "pt", "nl", "pl", "cs", "sk", "sl", "hr", "hu", "ro", "el", "tr", "ru", "sv", "da", "no", "fi"];

register({
  id: "pbx", path: "pbx", group: "provisioning", order: 30, nav: "pbx.nav",
  render: async (ctx) => {
    const p = await api("GET", tbase() + "/pbx");
    const tenant = S.tenants.find((x) => x.id === S.tenant) || {};
    const zones = timeZones(p.time_zone);
    const langName = new Intl.DisplayNames([lang], { type: "language" });
    const resyncNote = h("div", { class: "help", id: "resync-human", "aria-live": "polite" });
    const authNote = h("div", { id: "auth-note" });
    const port = (name, label) => ({ name, label, type: "number", required: true, attrs: { min: 1, max: 65535 },
      validate: (x) => (x < 1 || x > 65535 ? t("pbx.err.port") : "") });
    const f = form({
      id: "pbx-form",
      readOnly: !canWrite(),
      values: p,
      fields: [
        { section: t("pbx.sec.sip") },
        { name: "sip_server", label: t("pbx.sip_server"), required: true, help: t("pbx.sip_server_help"),
          validate: (x) => (/^[A-Za-z0-9.:-]+$/.test(x) ? "" : t("pbx.err.host")) },
        { name: "transport", label: t("pbx.transport"), type: "select",
          options: ["udp", "tcp", "tls"].map((x) => ({ value: x, label: x.toUpperCase(), data: true })) },
        port("sip_udp_port", t("pbx.sip_udp_port")),
        port("sip_tcp_port", t("pbx.sip_tcp_port")),
        port("sip_tls_port", t("pbx.sip_tls_port")),
        { name: "voicemail_number", label: t("pbx.voicemail_number"), attrs: { maxlength: 32 } },
        { section: t("pbx.sec.phones") },
        { name: "ntp_server", label: t("pbx.ntp_server") },
        { name: "time_zone", label: t("pbx.time_zone"), type: "select", options: zones.map((z) => ({ value: z, label: z, data: true })) },
        { name: "language", label: t("pbx.language"), type: "select",
          options: [...new Set([p.language, ...PHONE_LANGUAGES])].filter(Boolean).map((x) => ({ value: x, label: `${langName.of(x)} (${x})`, data: true })) },
        { name: "resync_seconds", label: t("pbx.resync"), type: "number", help: t("pbx.resync_help"), attrs: { min: 0, max: 604800, step: 60 },
          validate: (x) => (x < 0 || x > 604800 ? t("pbx.err.resync") : "") },
        { section: t("pbx.sec.auth") },
        { name: "secure_urls", label: t("pbx.secure_urls"), type: "checkbox", help: t("pbx.secure_urls_help") },
        { name: "enroll_window", label: t("pbx.enroll_window"), type: "number", help: t("pbx.enroll_window_help"), show: (x) => x.secure_urls,
          attrs: { min: 0, max: 2592000, step: 3600 }, validate: (x) => (x < 0 || x > 2592000 ? t("pbx.err.enroll_window") : "") },
        { name: "http_auth", label: t("pbx.http_auth"), type: "select", help: t("pbx.http_auth_help"),
          options: [{ value: "none", label: t("pbx.auth.none") }, { value: "basic", label: t("pbx.auth.basic") }, { value: "digest", label: t("pbx.auth.digest") }] },
        { name: "http_user", label: t("pbx.http_user"), show: (x) => x.http_auth !== "none", required: true, attrs: { autocomplete: "off" } },
        { name: "http_password", label: t("pbx.http_password"), type: "password", show: (x) => x.http_auth !== "none", required: true,
          attrs: { autocomplete: "new-password" }, validate: (x, all) => (all.http_auth !== "none" && x.length < 8 ? t("pbx.err.http_password") : "") },
      ],
      onChange: (vals) => notes(vals),
      onSubmit: async (vals) => {
        await api("PATCH", tbase() + "/pbx", vals);
        flash("ok", t("pbx.saved"));
        ctx.reload();
      },
    });
    const notes = (vals) => {
      const s = Number(vals.resync_seconds) || 0;
      resyncNote.replaceChildren(s === 0 ? t("pbx.resync_never") : s % 3600 === 0 ? t("pbx.resync_hours", { n: s / 3600 }) : t("pbx.resync_minutes", { n: Math.round(s / 60) }));
      authNote.replaceChildren(!vals.secure_urls ? message("warn", t("pbx.warn.not_secure"))
        : vals.http_auth === "none" ? message("info", t("pbx.info.secure_urls")) : "");
    };
    f.byName.resync_seconds.wrap.append(resyncNote);
    // The saved password (masked), when there is one to show.
    if (p.http_auth !== "none") {
      f.byName.http_password.wrap.append(revealButton({ id: "reveal-http-password", path: "/pbx/reveal", key: "http_password",
        what: t("reveal.http_password") }));
    }
    notes(f.values());
    ctx.show(t("pbx.nav"),
      !canWrite() ? message("info", t("core.read_only")) : null,
      section(null, h("table", { class: "kv", id: "prov-url" }, h("tbody", {},
        h("tr", {}, h("th", {}, t("pbx.provisioning_url")), h("td", {}, mono(tenant.provisioning_url || ""))),
        h("tr", {}, h("th", {}, t("pbx.tenant_uuid")), h("td", {}, mono(S.tenant)))))),
      authNote, f.el);
  },
});

// timeZones is the browser's list of IANA zones with UTC and the current value.
function timeZones(current) {
  let zones = [];
  try { zones = Intl.supportedValuesOf("timeZone"); } catch (e) { zones = []; }
  return [...new Set(["UTC", current, ...zones])].filter(Boolean);
}
