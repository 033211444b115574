// DHCP: the leases the appliance's DHCP server holds and the vendor rules that
// choose the provisioning options each phone gets (read-only: the rules are
// the configuration file's). Shown when the DHCP server is on.
"use strict";

import { h, v, mono, tag, time, t, api, feature, table, register, section, kv, tenantName, S } from "../core/kit.js";

register({
  id: "dhcp", path: "dhcp", group: "services", order: 10, nav: "dhcp.nav",
  visible: () => feature("dhcp"),
  render: async (ctx) => {
    const [leases, rules] = await Promise.all([api("GET", "/dhcp/leases"), api("GET", "/dhcp/rules")]);
    const stateTag = (s) => tag(t("dhcp.state." + s), s === "bound" ? "good" : s === "declined" ? "bad" : "");
    const opts = (o) => Object.entries(o || {}).map(([k, val]) => `${k}=${typeof val === "object" ? JSON.stringify(val) : val}`).join("  ");
    ctx.show(t("dhcp.nav"),
      section(t("dhcp.leases"), table({
        id: "dhcp-leases",
        columns: [
          { id: "ip", label: t("dhcp.ip"), value: (l) => mono(l.ip) },
          { id: "mac", label: t("dhcp.mac"), value: (l) => mono(l.mac) },
          { id: "state", label: t("dhcp.state"), value: (l) => stateTag(l.state) },
          { id: "expires", label: t("dhcp.expires"), value: (l) => time(l.expires) },
          { id: "hostname", label: t("dhcp.hostname"), value: (l) => l.hostname },
          { id: "vendor_class", label: t("dhcp.vendor_class"), value: (l) => l.vendor_class },
          { id: "vendor", label: t("dhcp.rule"), value: (l) => l.vendor },
          { id: "tenant", label: t("dhcp.tenant"), value: (l) => (l.tenant ? tenantName(l.tenant) : "") },
        ],
        rows: (leases.items || []).sort((a, b) => a.ip.localeCompare(b.ip, undefined, { numeric: true })),
        attrs: (l) => ({ "data-ip": l.ip, "data-mac": l.mac }),
        empty: t("dhcp.no_leases"),
      })),
      section(t("dhcp.rules"),
        kv([[t("dhcp.server_ip"), rules.server_ip], [t("dhcp.base_url"), mono(rules.base_url)], [t("dhcp.fallback_url"), mono(rules.fallback_url)],
          [t("dhcp.default"), mono(opts(rules.default))]], "dhcp-server"),
        table({
          id: "dhcp-rules",
          columns: [
            { id: "name", label: t("core.name"), value: (r) => r.name },
            { id: "match", label: t("dhcp.match"), value: (r) => [r.vendor_class, r.vendor_class_regex, r.brand, (r.ouis || []).join(" ")].filter(Boolean).join(" · ") },
            { id: "options", label: t("dhcp.options"), value: (r) => mono(opts(r.options)) },
          ],
          rows: rules.vendors || [],
          attrs: (r) => ({ "data-rule": r.name }),
        }),
        h("p", { class: "muted" }, t("dhcp.rules_note"))));
  },
});
