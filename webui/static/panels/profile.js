// Il mio account: the logged-in user's own password (every role, the auditor
// included, may change it).
"use strict";

import { h, t, api, S, form, register, flash, section, kv, logout } from "../core/kit.js";

register({
  id: "profile", path: "profile", group: "system", order: 1000, nav: null,
  render: async (ctx) => {
    const f = form({
      id: "password-form",
      submit: t("profile.change"),
      fields: [
        { name: "current_password", label: t("profile.current"), type: "password", required: true, attrs: { autocomplete: "current-password" } },
        { name: "new_password", label: t("profile.new"), type: "password", required: true, help: t("profile.new_help"),
          attrs: { autocomplete: "new-password" }, validate: (x) => (x.length < 8 || x.length > 72 ? t("profile.err.length") : "") },
        { name: "repeat", label: t("profile.repeat"), type: "password", required: true, attrs: { autocomplete: "new-password" },
          validate: (x, all) => (x !== all.new_password ? t("profile.err.repeat") : "") },
      ],
      onSubmit: async (vals) => {
        await api("PUT", "/me/password", { current_password: vals.current_password, new_password: vals.new_password });
        // Every session of the user ends with a password change: log in again.
        await logout(false, t("profile.changed"));
      },
    });
    ctx.show(t("profile.title"),
      section(null, kv([[t("profile.user"), S.me.username], [t("profile.role"), t("core.role." + S.me.role)], [t("profile.from"), S.me.source_ip]], "profile")),
      section(t("profile.password"), f.el));
  },
});
