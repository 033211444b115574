// SIP PnP: what the multicast PnP responder does (read-only: its policy is the
// configuration file's), its counters and the newest phones it answered or
// ignored. Shown when PnP is on, to admins and auditors.
"use strict";

import { h, v, mono, tag, time, t, api, feature, S, table, register, section, kv, fmtNumber, tenantName } from "../core/kit.js";

const COUNTERS = ["received", "answered", "ignored", "retransmitted", "malformed", "throttled", "dropped", "notify_answered", "notify_retransmits", "notify_timed_out"];

register({
  id: "pnp", path: "pnp", group: "services", order: 20, nav: "pnp.nav",
  visible: () => feature("pnp") && S.me.role !== "tenant_admin",
  render: async (ctx) => {
    const st = await api("GET", "/pnp");
    ctx.show(t("pnp.nav"),
      section(t("pnp.policy"), kv([
        [t("pnp.interfaces"), (st.interfaces || []).join(", ")],
        [t("pnp.port"), String(st.port)],
        [t("pnp.notify_port"), String(st.notify_port)],
        [t("pnp.unknown"), t("pnp.unknown." + st.unknown)],
        [t("pnp.bootstrap_url"), st.bootstrap_url ? mono(st.bootstrap_url) : t("pnp.bootstrap_default")],
        [t("pnp.tenants"), (st.tenants || []).length ? v((st.tenants || []).map((m) => `${m.interface || m.mac_prefix} → ${m.tenant}`).join(", ")) : t("pnp.no_tenant_map")],
      ], "pnp-policy")),
      section(t("pnp.counters"), kv(COUNTERS.map((c) => [t("pnp.counter." + c), fmtNumber((st.counters || {})[c] || 0)]), "pnp-counters")),
      section(t("pnp.recent"), table({
        id: "pnp-recent",
        columns: [
          { id: "time", label: t("pnp.time"), value: (x) => time(x.time) },
          { id: "mac", label: t("pnp.mac"), value: (x) => mono(x.mac) },
          { id: "src", label: t("pnp.src"), value: (x) => x.src },
          { id: "vendor", label: t("pnp.vendor"), value: (x) => [x.vendor, x.model].filter(Boolean).join(" ") },
          { id: "outcome", label: t("pnp.outcome"), value: (x) => (x.answered ? tag(x.known ? t("pnp.answered_known") : t("pnp.answered_unknown"), "good") : tag(t("pnp.ignored"), "")) },
          { id: "tenant", label: t("pnp.tenant"), value: (x) => (x.tenant ? tenantName(x.tenant) : "") },
          { id: "url", label: t("pnp.url"), value: (x) => mono(x.url || "") },
        ],
        rows: st.recent || [],
        attrs: (x) => ({ "data-mac": x.mac }),
        empty: t("pnp.no_recent"),
      })),
      h("p", { class: "muted" }, t("pnp.note")));
  },
});
