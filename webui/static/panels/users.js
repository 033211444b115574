// Utenti: the console's and the CLI's users, their role and tenant, passwords,
// sessions. A tenant admin sees and manages the tenant admins of its tenant.
"use strict";

import {
  h, v, tag, time, t, api, S, canWrite, isAdmin, form, table, register, flash, confirmDialog, errorMessage,
  message, busy, tenantName,
} from "../core/kit.js";

register({
  id: "users", path: "users", group: "system", order: 10, nav: "users.nav",
  visible: () => S.me.role !== "auditor",
  pages: async () => ["users/new", "users/" + S.me.username],
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

async function listPage(ctx) {
  const res = await api("GET", "/users");
  const list = table({
    id: "users",
    caption: t("users.nav"),
    columns: [
      { id: "username", label: t("users.username"), value: (u) => u.username },
      { id: "full_name", label: t("users.full_name"), value: (u) => u.full_name || "" },
      { id: "role", label: t("users.role"), value: (u) => t("core.role." + u.role) },
      { id: "tenant", label: t("users.tenant"), value: (u) => (u.tenant ? tenantName(u.tenant) : "") },
      { id: "state", label: t("users.state"), value: (u) => (u.disabled ? tag(t("users.disabled"), "bad") : tag(t("users.active"), "good")) },
      { id: "created", label: t("users.created"), value: (u) => time(u.created) },
    ],
    rows: (res.items || []).sort((a, b) => a.username.localeCompare(b.username)),
    attrs: (u) => ({ "data-user": u.username }),
    onOpen: (u) => ctx.go(["users", u.username]),
  });
  ctx.show(t("users.nav"),
    h("div", { class: "toolbar" }, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/users/new", class: "button", id: "add-user", role: "button" }, t("users.add")) : null),
    list);
}

async function editPage(ctx, name) {
  const isNew = name === "new";
  const u = isNew ? { role: isAdmin() ? "tenant_admin" : "tenant_admin", tenant: S.tenant } : await api("GET", "/users/" + encodeURIComponent(name));
  const ro = !canWrite();
  const self = !isNew && u.username === S.me.username;
  const roles = isAdmin() ? ["admin", "tenant_admin", "auditor"] : ["tenant_admin"];
  const f = form({
    id: "user-form",
    readOnly: ro,
    values: { username: u.username, full_name: u.full_name, email: u.email || "", supervisor: !!u.supervisor, role: u.role,
      tenant: u.tenant || "", disabled: !!u.disabled },
    fields: [
      { section: t("users.sec.user") },
      isNew ? { name: "username", label: t("users.username"), required: true, help: t("users.username_help"), attrs: { autocomplete: "off" },
        validate: (x) => (/^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$/.test(x) ? "" : t("users.err.username")) } : null,
      { name: "full_name", label: t("users.full_name"), attrs: { maxlength: 128 } },
      { name: "email", label: t("users.email"), type: "email", attrs: { autocomplete: "off" } },
      { name: "supervisor", label: t("users.supervisor"), type: "checkbox", help: t("users.supervisor_help") },
      { name: "role", label: t("users.role"), type: "select", options: roles.map((r) => ({ value: r, label: t("core.role." + r) })),
        help: t("users.role_help") },
      { name: "tenant", label: t("users.tenant"), type: "select", show: (x) => x.role === "tenant_admin",
        options: S.tenants.map((x) => ({ value: x.id, label: x.name, data: true })) },
      self ? null : { name: "disabled", label: t("users.disable"), type: "checkbox", help: t("users.disable_help") },
      { section: isNew ? t("users.sec.password") : t("users.sec.new_password") },
      { name: "password", label: t("users.password"), type: "password", required: isNew, omitEmpty: true,
        help: isNew ? t("users.password_help") : t("users.password_change_help"), attrs: { autocomplete: "new-password" },
        validate: (x) => (x && (x.length < 8 || x.length > 72) ? t("users.err.password") : "") },
    ],
    buttons: [
      ro || isNew ? null : h("button", { type: "button", class: "secondary", id: "user-revoke", onclick: (ev) => busy(ev.currentTarget, async () => {
        try {
          const r = await api("DELETE", "/users/" + encodeURIComponent(u.username) + "/sessions");
          f.showMessage("ok", t("users.revoked", { n: r.revoked }));
        } catch (err) { f.showError(err); }
      }) }, t("users.revoke")),
      ro || isNew || self ? null : h("button", { type: "button", class: "danger", id: "user-delete", onclick: () => doDelete() }, t("core.delete")),
      h("a", { href: "#/users", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      if (vals.role !== "tenant_admin") vals.tenant = "";
      if (self) delete vals.disabled;
      if (!isNew) delete vals.username;
      const saved = await api(isNew ? "POST" : "PATCH", "/users" + (isNew ? "" : "/" + encodeURIComponent(u.username)), vals);
      flash("ok", t("users.saved", { user: saved.username }));
      ctx.go(["users"], {});
    },
  });
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("users.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("users.delete_body", { user: u.username })) });
    if (!ok) return;
    try {
      await api("DELETE", "/users/" + encodeURIComponent(u.username));
      flash("ok", t("users.deleted", { user: u.username }));
      ctx.go(["users"], {});
    } catch (err) { f.showError(err); }
  };
  ctx.show(isNew ? t("users.new_title") : t("users.edit_title", { user: u.username }),
    self ? message("info", h("a", { href: "#/profile" }, t("users.self_note"))) : null, f.el);
}
