// Lista dei placeholder personalizzati: %%_NAME%% values of the tenant for its
// templates, static (a value) or dynamic (the IPv4 address of one of the
// appliance's interfaces, read live; the list shows each interface's value now).
"use strict";

import { h, v, mono, tag, t, api, tbase, canWrite, form, table, register, flash, confirmDialog, message } from "../core/kit.js";

register({
  id: "placeholders", path: "placeholders", group: "provisioning", order: 60, nav: "placeholders.nav",
  pages: async () => {
    const r = await api("GET", tbase() + "/placeholders");
    return ["placeholders/new", ...(r.items || []).slice(0, 1).map((p) => "placeholders/" + p.id)];
  },
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

async function listPage(ctx) {
  const [res, ifs] = await Promise.all([api("GET", tbase() + "/placeholders"), api("GET", "/interfaces")]);
  const ipOf = (name) => ((ifs.items || []).find((i) => i.name === name) || {}).ipv4 || "";
  const list = table({
    id: "placeholders",
    caption: t("placeholders.nav"),
    columns: [
      { id: "name", label: t("core.name"), value: (p) => mono("%%" + p.name + "%%") },
      { id: "type", label: t("placeholders.type"), value: (p) => t("placeholders.type." + p.type) },
      { id: "value", label: t("placeholders.current"), value: (p) => (p.type === "static" ? v(p.value)
        : h("span", {}, mono(ipOf(p.interface) || "—"), " ", h("span", { class: "muted" }, t("placeholders.from_interface", { name: p.interface })))) },
      { id: "description", label: t("core.description"), value: (p) => p.description || "" },
    ],
    rows: (res.items || []).sort((a, b) => a.name.localeCompare(b.name)),
    attrs: (p) => ({ "data-name": p.name, "data-id": p.id }),
    onOpen: (p) => ctx.go(["placeholders", p.id]),
    empty: t("placeholders.empty"),
  });
  ctx.show(t("placeholders.nav"), h("p", { class: "muted" }, t("placeholders.intro")),
    h("div", { class: "toolbar" }, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/placeholders/new", class: "button", id: "add-placeholder", role: "button" }, t("placeholders.add")) : null),
    list);
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const [p, ifs] = await Promise.all([
    isNew ? Promise.resolve({ name: "_", type: "static", value: "", interface: "", description: "" }) : api("GET", tbase() + "/placeholders/" + encodeURIComponent(id)),
    api("GET", "/interfaces")]);
  const interfaces = ifs.items || [];
  const current = h("output", { id: "placeholder-current", class: "example", "data-v": "" });
  const f = form({
    id: "placeholder-form",
    readOnly: !canWrite(),
    values: p,
    fields: [
      { name: "name", label: t("core.name"), required: true, help: t("placeholders.name_help"), attrs: { autocomplete: "off", spellcheck: "false" },
        validate: (x) => (/^_[A-Z0-9_]{1,63}$/.test(x) ? "" : t("placeholders.err.name")) },
      { name: "type", label: t("placeholders.type"), type: "select",
        options: [{ value: "static", label: t("placeholders.type.static") }, { value: "dynamic", label: t("placeholders.type.dynamic") }] },
      { name: "value", label: t("placeholders.value"), show: (x) => x.type === "static", wide: true,
        validate: (x) => (/[\r\n]/.test(x) ? t("placeholders.err.value") : "") },
      { name: "interface", label: t("placeholders.interface"), type: "select", show: (x) => x.type === "dynamic", required: true,
        help: t("placeholders.interface_help"),
        options: [{ value: "", label: t("core.choose") }, ...[...new Set([p.interface, ...interfaces.map((i) => i.name)])].filter(Boolean).map((name) => {
          const i = interfaces.find((x) => x.name === name);
          return { value: name, label: i ? (i.ipv4 ? `${name} (${i.ipv4})` : name) : name, data: true };
        })] },
      { name: "description", label: t("core.description"), wide: true, attrs: { maxlength: 256 } },
    ],
    buttons: [
      !isNew && canWrite() ? h("button", { type: "button", class: "danger", id: "placeholder-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/placeholders", class: "back" }, t("core.back")),
    ],
    onChange: (vals) => showCurrent(vals),
    onSubmit: async (vals) => {
      const body = { name: vals.name.trim(), type: vals.type, description: vals.description,
        value: vals.type === "static" ? vals.value : "", interface: vals.type === "dynamic" ? vals.interface : "" };
      const saved = await api(isNew ? "POST" : "PATCH", tbase() + "/placeholders" + (isNew ? "" : "/" + encodeURIComponent(id)), body);
      flash("ok", t("placeholders.saved", { name: saved.name }));
      ctx.go(["placeholders"], {});
    },
  });
  const row = h("div", { class: "field wide" }, h("span", { class: "muted" }, t("placeholders.current_value")), current);
  f.byName.description.wrap.before(row);
  const showCurrent = (vals) => {
    let val = vals.value;
    if (vals.type === "dynamic") val = (interfaces.find((i) => i.name === vals.interface) || {}).ipv4 || "";
    current.textContent = val;
    row.hidden = vals.type === "dynamic" && !vals.interface;
  };
  showCurrent(f.values());
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("placeholders.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("placeholders.delete_body", { name: "%%" + p.name + "%%" })) });
    if (!ok) return;
    try {
      await api("DELETE", tbase() + "/placeholders/" + encodeURIComponent(id));
      flash("ok", t("placeholders.deleted", { name: p.name }));
      ctx.go(["placeholders"], {});
    } catch (err) { f.showError(err); }
  };
  ctx.show(isNew ? t("placeholders.new_title") : t("placeholders.edit_title", { name: "%%" + p.name + "%%" }),
    !canWrite() ? message("info", t("core.read_only")) : null, f.el);
}
