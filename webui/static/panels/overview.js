// Panoramica: the chosen tenant at a glance, what needs attention, the appliance.
"use strict";

import { h, v, mono, t, api, tbase, q, S, register, section, kv, message, fmtNumber, tenantName } from "../core/kit.js";

register({
  id: "overview", path: "", group: "home", order: 10, nav: "overview.nav",
  render: async (ctx) => {
    const [dev, acc, unk, pbx] = await Promise.all([
      api("GET", tbase() + "/devices" + q({ limit: 1 })), api("GET", tbase() + "/accounts" + q({ limit: 1 })),
      api("GET", tbase() + "/unknown-devices"), api("GET", tbase() + "/pbx")]);
    const card = (id, n, label, href) => h("a", { href, class: "card", id },
      h("div", { class: "n" }, fmtNumber(n)), h("div", { class: "l" }, label));
    const unknown = (unk.items || []).length;
    const warnings = [];
    if (!pbx.sip_server) warnings.push(message("warn", h("strong", {}, t("overview.warn.no_sip_server")), h("a", { href: "#/pbx" }, t("overview.fix_pbx"))));
    if (pbx.http_auth === "none" && !pbx.secure_urls && dev.total > 0) warnings.push(message("warn", h("strong", {}, t("overview.warn.no_auth")), h("a", { href: "#/pbx" }, t("overview.fix_pbx"))));
    if (unknown > 0) warnings.push(message("info", h("strong", {}, t("overview.unknown_waiting", { n: unknown })), h("a", { href: "#/unknown" }, t("overview.go_unknown"))));
    const provPath = S.status.tenancy_mode === "multi" ? `/provisioning/${S.tenant}/` : "/provisioning/";
    ctx.show(t("overview.title", { tenant: tenantName(S.tenant) }),
      h("div", { id: "warnings" }, warnings),
      h("div", { class: "cards" },
        card("card-devices", dev.total, t("overview.devices", { n: dev.total }), "#/devices"),
        card("card-accounts", acc.total, t("overview.accounts", { n: acc.total }), "#/accounts"),
        card("card-unknown", unknown, t("overview.unknown", { n: unknown }), "#/unknown")),
      h("div", { id: "status" }, section(t("overview.appliance"), kv([
        [t("overview.version"), S.status.version],
        [t("overview.revision"), h("span", { id: "revision", "data-v": "" }, String(S.status.revision))],
        [t("overview.tenancy"), t("overview.tenancy." + S.status.tenancy_mode)],
        [t("overview.tenant"), h("span", {}, v(tenantName(S.tenant)), " ", mono(S.tenant))],
        [t("overview.prov_path"), mono(provPath)],
        [t("overview.services"), S.status.features.length ? v(S.status.features.join(", ")) : t("overview.no_services")],
      ]))));
  },
});
