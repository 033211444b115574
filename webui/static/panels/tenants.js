// Tenant: the appliance's tenants (one per customer on a multi-tenant box).
"use strict";

import { h, mono, tag, time, t, api, S, isAdmin, canWrite, form, table, register, flash, confirmDialog, message, refreshTenants, fmtNumber } from "../core/kit.js";

register({
  id: "tenants", path: "tenants", group: "system", order: 20, nav: "tenants.nav",
  pages: async () => [isAdmin() && multi() ? "tenants/new" : null, "tenants/" + S.tenant].filter(Boolean),
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

const multi = () => S.status.tenancy_mode === "multi";

async function listPage(ctx) {
  const res = await api("GET", "/tenants");
  const list = table({
    id: "tenants",
    caption: t("tenants.nav"),
    columns: [
      { id: "name", label: t("core.name"), value: (x) => x.name },
      { id: "id", label: t("tenants.uuid"), value: (x) => mono(x.id) },
      { id: "description", label: t("core.description"), value: (x) => x.description || "" },
      { id: "devices", label: t("tenants.devices"), value: (x) => fmtNumber(x.devices || 0) },
      { id: "state", label: t("tenants.state"), value: (x) => (x.enabled ? tag(t("core.enabled"), "good") : tag(t("core.disabled"), "")) },
      { id: "created", label: t("tenants.created"), value: (x) => time(x.created) },
    ],
    rows: res.items || [],
    attrs: (x) => ({ "data-tenant": x.name, "data-id": x.id }),
    onOpen: (x) => ctx.go(["tenants", x.id]),
  });
  ctx.show(t("tenants.nav"),
    multi() ? null : message("info", t("tenants.single")),
    h("div", { class: "toolbar" }, h("span", { class: "grow" }),
      isAdmin() && multi() ? h("a", { href: "#/tenants/new", class: "button", id: "add-tenant", role: "button" }, t("tenants.add")) : null),
    list);
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const x = isNew ? { enabled: true } : await api("GET", "/tenants/" + encodeURIComponent(id));
  const f = form({
    id: "tenant-form",
    readOnly: !canWrite(),
    values: x,
    fields: [
      { name: "name", label: t("core.name"), required: true, help: t("tenants.name_help"), attrs: { maxlength: 64 } },
      { name: "description", label: t("core.description"), attrs: { maxlength: 256 } },
      isAdmin() ? { name: "enabled", label: t("tenants.enabled"), type: "checkbox", help: t("tenants.enabled_help") } : null,
    ],
    buttons: [
      !isNew && isAdmin() && multi() ? h("button", { type: "button", class: "danger", id: "tenant-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/tenants", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      const saved = await api(isNew ? "POST" : "PATCH", "/tenants" + (isNew ? "" : "/" + encodeURIComponent(id)), vals);
      await refreshTenants();
      flash("ok", t("tenants.saved", { name: saved.name }));
      ctx.go(["tenants"], {});
    },
  });
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("tenants.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("tenants.delete_body", { name: x.name })) });
    if (!ok) return;
    try {
      await api("DELETE", "/tenants/" + encodeURIComponent(id));
      await refreshTenants();
      flash("ok", t("tenants.deleted", { name: x.name }));
      ctx.go(["tenants"], {});
    } catch (err) { f.showError(err); }
  };
  ctx.show(isNew ? t("tenants.new_title") : t("tenants.edit_title", { name: x.name }), f.el);
}
