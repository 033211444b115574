// Diagnostics: the doctor's checks (the same as "switchboard doctor"), one row
// per check with its verdict, what it found and the fix. The checks run when
// the page opens and again on demand. Admins and auditors only.
"use strict";

import { h, mono, tag, t, api, S, table, register, section, kv, time } from "../core/kit.js";

const KIND = { OK: "good", WARN: "warn", FAIL: "bad", SKIP: "" };

register({
  id: "doctor", path: "doctor", group: "system", order: 70, nav: "doctor.nav",
  visible: () => S.me.role === "admin" || S.me.role === "auditor",
  render: async (ctx) => {
    const rep = await api("GET", "/diagnostics");
    const counts = {};
    for (const c of rep.checks || []) counts[c.status] = (counts[c.status] || 0) + 1;
    ctx.show(t("doctor.nav"),
      section(t("doctor.summary"), kv([
        [t("doctor.result"), tag(t("doctor.status." + rep.status), KIND[rep.status] || "")],
        [t("doctor.counts"), t("doctor.count_line", { ok: counts.OK || 0, warn: counts.WARN || 0, fail: counts.FAIL || 0, skip: counts.SKIP || 0 })],
        [t("doctor.time"), time(rep.time)],
      ], "doctor-summary")),
      h("p", {}, h("button", { id: "doctor-rerun", type: "button", onclick: () => ctx.reload() }, t("doctor.rerun"))),
      section(t("doctor.checks"), table({
        id: "doctor-checks",
        columns: [
          { id: "status", label: t("doctor.col.status"), value: (c) => tag(t("doctor.status." + c.status), KIND[c.status] || "") },
          { id: "id", label: t("doctor.col.check"), value: (c) => mono(c.id) },
          { id: "detail", label: t("doctor.col.detail"), value: (c) => c.detail },
          { id: "fix", label: t("doctor.col.fix"), value: (c) => c.fix || "" },
        ],
        rows: rep.checks || [],
        attrs: (c) => ({ "data-check": c.id, "data-status": c.status }),
        empty: t("doctor.none"),
      })),
      h("p", { class: "muted" }, t("doctor.note")));
  },
});
