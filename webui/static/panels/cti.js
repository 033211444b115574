// CTI: the users of the CTI (nethcti-compatible) and their permission profiles.
// Global objects: admins manage them, auditors read them, tenant admins do not
// see them. Shown when the CTI is on.
"use strict";

import {
  h, v, mono, tag, t, api, S, canWrite, feature, form, choose, table, register, flash, confirmDialog, message, section, busy,
} from "../core/kit.js";

const TYPES = ["physical", "webrtc", "mobile", "nethlink"];

register({
  id: "cti", path: "cti", group: "services", order: 30, nav: "cti.nav",
  visible: () => feature("cti") && S.me.role !== "tenant_admin",
  pages: async () => {
    const [u, p] = await Promise.all([api("GET", "/cti/users"), api("GET", "/cti/profiles")]);
    return ["cti/profiles", "cti/users/new", "cti/profiles/new",
      ...(u || []).slice(0, 1).map((x) => "cti/users/" + x.username), ...(p || []).slice(0, 1).map((x) => "cti/profiles/" + x.id)];
  },
  render: (ctx) => {
    const [kind, id] = ctx.path;
    if (kind === "users" && id) return userPage(ctx, id);
    if (kind === "profiles" && id) return profilePage(ctx, id);
    if (kind === "profiles") return profilesPage(ctx);
    return usersPage(ctx);
  },
});

function tabs(current) {
  const a = (id, href, label) => h("a", { href, id, class: current === id ? "button" : "button secondary", "aria-current": current === id ? "page" : null }, label);
  return h("nav", { class: "toolbar", "aria-label": t("cti.tabs") }, a("tab-users", "#/cti", t("cti.users")), a("tab-profiles", "#/cti/profiles", t("cti.profiles")));
}

async function usersPage(ctx) {
  const [users, profiles] = await Promise.all([api("GET", "/cti/users"), api("GET", "/cti/profiles")]);
  const pname = (id) => ((profiles || []).find((p) => p.id === id) || { name: id }).name;
  ctx.show(t("cti.nav"), tabs("tab-users"),
    h("div", { class: "toolbar" }, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/cti/users/new", class: "button", id: "add-cti-user", role: "button" }, t("cti.add_user")) : null),
    table({
      id: "cti-users",
      caption: t("cti.users"),
      columns: [
        { id: "username", label: t("cti.username"), value: (u) => u.username },
        { id: "name", label: t("core.name"), value: (u) => u.name },
        { id: "ext", label: t("cti.mainextension"), value: (u) => u.mainextension },
        { id: "profile", label: t("cti.profile"), value: (u) => (u.profile ? pname(u.profile) : "") },
        { id: "endpoints", label: t("cti.endpoints"), value: (u) => (u.endpoints || []).map((e) => `${e.id} (${e.type})`).join(", ") },
        { id: "state", label: t("cti.state"), value: (u) => (u.disabled ? tag(t("core.disabled"), "") : tag(t("core.enabled"), "good")) },
      ],
      rows: users || [],
      attrs: (u) => ({ "data-user": u.username }),
      onOpen: (u) => ctx.go(["cti", "users", u.username]),
      empty: t("cti.no_users"),
    }));
}

// endpointsField edits the user's endpoints: id, type and (physical) device.
function endpointsField() {
  let rowsBox;
  const row = (e) => {
    const r = h("div", { class: "picker ep-row" },
      h("input", { "data-ep": "id", value: e.id || "", "aria-label": t("cti.ep_id"), placeholder: t("cti.ep_id") }),
      h("select", { "data-ep": "type", "aria-label": t("cti.ep_type") }, TYPES.map((x) => h("option", { value: x, selected: x === (e.type || "physical") }, t("cti.ep." + x)))),
      h("input", { "data-ep": "device", value: e.device || "", "aria-label": t("cti.ep_device"), placeholder: t("cti.ep_device") }),
      h("button", { type: "button", class: "danger", onclick: () => r.remove() }, t("cti.ep_remove")));
    return r;
  };
  return {
    name: "endpoints", label: t("cti.endpoints"), type: "custom", wide: true, help: t("cti.endpoints_help"),
    render: (f, attrs) => {
      rowsBox = h("div", { id: attrs.id, tabindex: "-1", "aria-describedby": attrs["aria-describedby"] });
      return h("div", {}, rowsBox, h("button", { type: "button", class: "secondary", id: "ep-add", onclick: () => rowsBox.append(row({})) }, t("cti.ep_add")));
    },
    get: () => [...rowsBox.querySelectorAll(".ep-row")].map((r) => {
      const e = { id: r.querySelector('[data-ep="id"]').value.trim(), type: r.querySelector('[data-ep="type"]').value };
      const d = r.querySelector('[data-ep="device"]').value.trim();
      if (d) e.device = d;
      return e;
    }).filter((e) => e.id),
    set: (el, val) => rowsBox.replaceChildren(...(val || []).map(row)),
  };
}

async function userPage(ctx, name) {
  const isNew = name === "new";
  const [u, profiles] = await Promise.all([
    isNew ? Promise.resolve({ endpoints: [] }) : api("GET", "/cti/users/" + encodeURIComponent(name)), api("GET", "/cti/profiles")]);
  const f = form({
    id: "cti-user-form",
    readOnly: !canWrite(),
    values: u,
    fields: [
      { section: t("cti.sec.user") },
      isNew ? { name: "username", label: t("cti.username"), required: true, attrs: { autocomplete: "off" } } : null,
      { name: "name", label: t("core.name") },
      { name: "mainextension", label: t("cti.mainextension") },
      { name: "profile", label: t("cti.profile"), type: "select", options: [choose(), ...(profiles || []).map((p) => ({ value: p.id, label: p.name, data: true }))] },
      { name: "email", label: t("cti.email"), type: "email" },
      { name: "cellphone", label: t("cti.cellphone") },
      { name: "voicemail", label: t("cti.voicemail") },
      { name: "default_device", label: t("cti.default_device") },
      { name: "disabled", label: t("cti.disabled"), type: "checkbox" },
      endpointsField(),
      { section: t("cti.sec.password") },
      { name: "password", label: t("cti.password"), type: "password", required: isNew, omitEmpty: true,
        help: isNew ? "" : t("cti.password_keep"), attrs: { autocomplete: "new-password" } },
    ],
    buttons: [
      !isNew && canWrite() ? h("button", { type: "button", class: "danger", id: "cti-user-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/cti", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      const saved = await api(isNew ? "POST" : "PATCH", "/cti/users" + (isNew ? "" : "/" + encodeURIComponent(name)), vals);
      flash("ok", t("cti.user_saved", { user: saved.username }));
      ctx.go(["cti"], {});
    },
  });
  const doDelete = async () => {
    if (!await confirmDialog({ title: t("cti.user_delete_title"), danger: true, confirm: t("core.delete"), body: h("p", {}, t("cti.user_delete_body", { user: name })) })) return;
    try {
      await api("DELETE", "/cti/users/" + encodeURIComponent(name));
      flash("ok", t("cti.user_deleted", { user: name }));
      ctx.go(["cti"], {});
    } catch (err) { f.showError(err); }
  };
  ctx.show(isNew ? t("cti.new_user") : t("cti.user_title", { user: name }), f.el);
}

async function profilesPage(ctx) {
  const profiles = await api("GET", "/cti/profiles");
  ctx.show(t("cti.nav"), tabs("tab-profiles"),
    h("div", { class: "toolbar" }, h("span", { class: "grow" }),
      canWrite() ? h("a", { href: "#/cti/profiles/new", class: "button", id: "add-cti-profile", role: "button" }, t("cti.add_profile")) : null),
    table({
      id: "cti-profiles",
      caption: t("cti.profiles"),
      columns: [
        { id: "id", label: t("cti.profile_id"), value: (p) => mono(p.id) },
        { id: "name", label: t("core.name"), value: (p) => p.name },
        { id: "macros", label: t("cti.macros_on"), value: (p) => Object.entries(p.macro_permissions || {}).filter(([, m]) => m.value).map(([k]) => k).sort().join(", ") },
      ],
      rows: profiles || [],
      attrs: (p) => ({ "data-id": p.id }),
      onOpen: (p) => ctx.go(["cti", "profiles", p.id]),
      empty: t("cti.no_profiles"),
    }));
}

// macrosField: a checkbox per macro and, under it, one per permission.
function macrosField(template) {
  let box;
  const render = (mp) => {
    box.replaceChildren(...Object.keys(mp).sort().map((name) => {
      const m = mp[name];
      return h("fieldset", { class: "macro", "data-macro": name },
        h("legend", {}, h("label", { class: "check" }, h("input", { type: "checkbox", "data-m": name, checked: m.value }), mono(name))),
        h("div", { class: "row" }, (m.permissions || []).map((p) =>
          h("label", { class: "check" }, h("input", { type: "checkbox", "data-m": name, "data-p": p.name, checked: p.value }), mono(p.name)))));
    }));
  };
  return {
    name: "macro_permissions", label: t("cti.permissions"), type: "custom", wide: true, help: t("cti.permissions_help"),
    render: (f, attrs) => { box = h("div", { id: attrs.id, tabindex: "-1" }); render(template); return box; },
    get: () => {
      const out = {};
      for (const fs of box.querySelectorAll("fieldset.macro")) {
        const name = fs.dataset.macro;
        out[name] = { value: fs.querySelector(`legend input`).checked,
          permissions: [...fs.querySelectorAll("input[data-p]")].map((i) => ({ name: i.dataset.p, value: i.checked })) };
      }
      return out;
    },
    set: (el, val) => render(val || template),
  };
}

async function profilePage(ctx, id) {
  const isNew = id === "new";
  const profiles = await api("GET", "/cti/profiles");
  const p = isNew ? null : (profiles || []).find((x) => x.id === id);
  if (!isNew && !p) throw Object.assign(new Error("not found"), { status: 404 });
  // A new profile starts from the permissions the others have, all off.
  const template = {};
  for (const x of profiles || []) {
    for (const [name, m] of Object.entries(x.macro_permissions || {})) {
      template[name] = template[name] || { value: false, permissions: [] };
      for (const perm of m.permissions || []) {
        if (!template[name].permissions.some((q) => q.name === perm.name)) template[name].permissions.push({ name: perm.name, value: false });
      }
    }
  }
  const f = form({
    id: "cti-profile-form",
    readOnly: !canWrite(),
    values: p || { macro_permissions: template },
    fields: [
      isNew ? { name: "id", label: t("cti.profile_id"), required: true, help: t("cti.profile_id_help") } : null,
      { name: "name", label: t("core.name"), required: true },
      macrosField(template),
    ],
    buttons: [
      !isNew && canWrite() ? h("button", { type: "button", class: "danger", id: "cti-profile-delete", onclick: () => doDelete() }, t("core.delete")) : null,
      h("a", { href: "#/cti/profiles", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      const pid = isNew ? vals.id.trim() : id;
      const saved = await api("PUT", "/cti/profiles/" + encodeURIComponent(pid), { name: vals.name, macro_permissions: vals.macro_permissions });
      flash("ok", t("cti.profile_saved", { name: saved.name }));
      ctx.go(["cti", "profiles"], {});
    },
  });
  const doDelete = async () => {
    if (!await confirmDialog({ title: t("cti.profile_delete_title"), danger: true, confirm: t("core.delete"), body: h("p", {}, t("cti.profile_delete_body", { name: p.name })) })) return;
    try {
      await api("DELETE", "/cti/profiles/" + encodeURIComponent(id));
      flash("ok", t("cti.profile_deleted", { name: p.name }));
      ctx.go(["cti", "profiles"], {});
    } catch (err) { f.showError(err); }
  };
  ctx.show(isNew ? t("cti.new_profile") : t("cti.profile_title", { name: p.name }), f.el);
}
