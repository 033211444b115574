// Account: the tenant's SIP accounts (extensions), searched and paged by the
// server, with an edit form.
"use strict";

import {
  h, v, mono, t, api, tbase, q, canWrite, form, table, pager, searchBox, register, flash, confirmDialog,
  errorMessage, message, busy, download,
} from "../core/kit.js";

const PAGE = 50;

register({
  id: "accounts", path: "accounts", group: "provisioning", order: 20, nav: "accounts.nav",
  pages: async () => {
    const r = await api("GET", tbase() + "/accounts" + q({ limit: 1 }));
    return ["accounts/new", ...(r.items || []).map((a) => "accounts/" + a.id)];
  },
  render: (ctx) => (ctx.path.length ? editPage(ctx, ctx.path[0]) : listPage(ctx)),
});

function secretCell(a) {
  if (!canWrite()) return h("span", { class: "mono", title: t("accounts.secret_hidden") }, "••••••");
  const secret = h("span", { class: "mono", "data-v": "" }, "••••••");
  const toggle = h("button", { type: "button", class: "secondary", onclick: () => {
    const shown = secret.textContent !== "••••••";
    secret.textContent = shown ? "••••••" : a.sip_password;
    toggle.textContent = shown ? t("core.show") : t("core.hide");
  } }, t("core.show"));
  return h("span", {}, secret, " ", toggle);
}

async function listPage(ctx) {
  const search = ctx.query.get("q") || "";
  const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
  const res = await api("GET", tbase() + "/accounts" + q({ q: search, limit: PAGE, offset }));
  const items = res.items || [];
  const box = h("div");
  const list = table({
    id: "accounts",
    caption: t("accounts.nav"),
    columns: [
      { id: "extension", label: t("accounts.extension"), value: (a) => a.extension },
      { id: "name", label: t("accounts.display_name"), value: (a) => a.display_name || "" },
      { id: "sip_username", label: t("accounts.sip_username"), value: (a) => mono(a.sip_username) },
      { id: "sip_password", label: t("accounts.sip_password"), value: secretCell },
      { id: "transport", label: t("accounts.transport"), value: (a) => (a.transport ? v(a.transport.toUpperCase()) : t("accounts.transport_pbx")) },
    ],
    rows: items,
    attrs: (a) => ({ "data-extension": a.extension, "data-id": a.id }),
    onOpen: (a) => ctx.go(["accounts", a.id]),
    empty: search ? t("core.no_match") : t("accounts.empty"),
  });
  const importInput = h("input", { type: "file", accept: ".csv,text/csv", class: "sr-only", tabindex: "-1", id: "accounts-import-file", "aria-label": t("accounts.import") });
  importInput.addEventListener("change", async () => {
    const f = importInput.files[0];
    if (!f) return;
    try {
      const r = await api("POST", tbase() + "/accounts.csv", f, { type: "text/csv" });
      flash("ok", t("accounts.imported", { created: r.created || 0, updated: r.updated || 0 }));
      ctx.reload();
    } catch (err) { box.replaceChildren(errorMessage(err)); }
  });
  const tools = h("div", { class: "toolbar" },
    searchBox({ id: "account-search", value: search, label: t("accounts.search"), placeholder: t("accounts.search_hint"),
      onSearch: (text) => ctx.setQuery({ q: text }) }),
    h("span", { class: "grow" }),
    h("button", { type: "button", class: "secondary", id: "accounts-export", onclick: (ev) => busy(ev.currentTarget, async () => {
      try { download("accounts.csv", await api("GET", tbase() + "/accounts.csv", undefined, { text: true }), "text/csv"); } catch (err) { box.replaceChildren(errorMessage(err)); }
    }) }, t("accounts.export")),
    canWrite() ? h("span", {}, importInput, h("button", { type: "button", class: "secondary", id: "accounts-import", onclick: () => importInput.click() }, t("accounts.import"))) : null,
    canWrite() ? h("a", { href: "#/accounts/new", class: "button", id: "add-account", role: "button" }, t("accounts.add")) : null);
  ctx.show(t("accounts.nav"), tools, box, list,
    pager({ id: "accounts-pager", total: res.total, offset, limit: PAGE, count: items.length, onGo: (off) => ctx.setQuery({ q: search, offset: off }) }));
}

function randomSecret() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  const abc = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  return Array.from(a, (b) => abc[b % abc.length]).join("");
}

async function editPage(ctx, id) {
  const isNew = id === "new";
  const a = isNew ? { sip_password: randomSecret(), transport: "" } : await api("GET", tbase() + "/accounts/" + encodeURIComponent(id));
  const ro = !canWrite();
  const f = form({
    id: "account-form",
    readOnly: ro,
    values: a,
    fields: [
      { section: t("accounts.sec.identity") },
      { name: "extension", label: t("accounts.extension"), required: true, attrs: { maxlength: 32, autocomplete: "off" } },
      { name: "display_name", label: t("accounts.display_name"), attrs: { maxlength: 64 } },
      { name: "first_name", label: t("accounts.first_name"), attrs: { maxlength: 64 } },
      { name: "last_name", label: t("accounts.last_name"), attrs: { maxlength: 64 } },
      { name: "voicemail", label: t("accounts.voicemail"), help: t("accounts.voicemail_help"), attrs: { maxlength: 32 } },
      { section: t("accounts.sec.sip") },
      { name: "sip_username", label: t("accounts.sip_username"), help: t("accounts.sip_username_help"), attrs: { autocomplete: "off" } },
      { name: "auth_username", label: t("accounts.auth_username"), help: t("accounts.auth_username_help"), attrs: { autocomplete: "off" } },
      ro ? null : { name: "sip_password", label: t("accounts.sip_password"), type: "password", required: true, attrs: { autocomplete: "new-password" },
          validate: (val) => (val.length < 8 ? t("accounts.err.weak") : "") },
      { name: "transport", label: t("accounts.transport"), type: "select",
        options: [{ value: "", label: t("accounts.transport_pbx") }, { value: "udp", label: "UDP", data: true },
          { value: "tcp", label: "TCP", data: true }, { value: "tls", label: "TLS", data: true }] },
    ],
    buttons: [
      ro ? null : h("button", { type: "button", class: "secondary", id: "show-password", onclick: (ev) => {
        const el = f.input("sip_password");
        el.type = el.type === "password" ? "text" : "password";
        ev.currentTarget.textContent = el.type === "password" ? t("accounts.show_password") : t("accounts.hide_password");
      } }, t("accounts.show_password")),
      ro || isNew ? null : h("button", { type: "button", class: "danger", id: "account-delete", onclick: () => doDelete() }, t("core.delete")),
      h("a", { href: "#/accounts", class: "back" }, t("core.back")),
    ],
    onSubmit: async (vals) => {
      const saved = await api(isNew ? "POST" : "PATCH", tbase() + "/accounts" + (isNew ? "" : "/" + encodeURIComponent(id)), vals);
      flash("ok", t("accounts.saved", { extension: saved.extension }));
      ctx.go(["accounts"], {});
    },
  });
  const linked = h("div", { id: "account-linked" });
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("accounts.delete_title"), danger: true, confirm: t("core.delete"),
      body: h("p", {}, t("accounts.delete_body", { extension: a.extension })) });
    if (!ok) return;
    try {
      await api("DELETE", tbase() + "/accounts/" + encodeURIComponent(id));
      flash("ok", t("accounts.deleted", { extension: a.extension }));
      ctx.go(["accounts"], {});
    } catch (err) {
      f.showError(err);
      if (err.status === 409) {
        linked.replaceChildren(message("info", h("a", { href: "#/devices?q=" + encodeURIComponent(a.extension) }, t("accounts.show_linked"))));
      }
    }
  };
  ctx.show(isNew ? t("accounts.new_title") : t("accounts.edit_title", { extension: a.extension }),
    ro ? message("info", t("core.read_only")) : null, f.el, linked);
}
