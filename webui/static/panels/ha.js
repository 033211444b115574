// Alta affidabilità: the menu entry and page of the HA configuration and status.
// This is the slot the HA panels fill (configuration form, status, pair /
// switch / unpair / disable); until then it shows the status read-only.
"use strict";

import { h, v, t, api, S, feature, register, section, kv, message } from "../core/kit.js";

register({
  id: "ha", path: "ha", group: "system", order: 40, nav: "ha.nav",
  // The admin, or the tenant admin of a single-tenant box.
  visible: () => S.me.role === "admin" || (S.me.role === "tenant_admin" && S.status.tenancy_mode === "single"),
  render: async (ctx) => {
    if (!feature("ha")) {
      ctx.show(t("ha.nav"), message("info", t("ha.off")));
      return;
    }
    const st = await api("GET", "/ha");
    ctx.show(t("ha.nav"), section(t("ha.status"), kv(Object.entries(st || {}).map(([k, val]) =>
      [v(k), typeof val === "object" ? JSON.stringify(val) : String(val)]), "ha-status")));
  },
});
