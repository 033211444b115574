// Package webui is the web admin console served at / on the HTTPS listener.
//
// It is a single-page application in plain JavaScript modules (no build step,
// no third-party code) embedded in the binary. It holds no logic of its own:
// every read and write goes through the admin REST API under /api/v1 with the
// same bearer tokens, roles, validation and audit rows as the CLI, so the
// console can never do what the API would refuse. Pages insert data as text,
// never as HTML, and a strict Content-Security-Policy forbids inline and
// foreign scripts (modules are loaded from /ui/ only).
//
// # Layout
//
//	static/index.html       the page: loads app.js as a module
//	static/app.js           entry point
//	static/core/            the framework, imported by panels through core/kit.js:
//	  i18n.js               t(key, args), the language, number/date formats
//	  dom.js                h() builds elements; v() marks API data (data-v)
//	  api.js                api(), the session (S), roles, tenant
//	  forms.js              form(): labelled fields, validation, errors on the field
//	  list.js               table(), pager(), searchBox(), columnChooser()
//	  ui.js                 messages, flash, confirmDialog(), errors
//	  registry.js           register(panel), the menu groups
//	  shell.js              login, frame, menu, tenant and language, router
//	static/panels/NAME.js   one panel per file (shared helpers in panels/shared/)
//	static/i18n/NAME.json   the panel's strings: {"it": {...}, "en": {...}}
//
// The server lists every static/panels/*.js in /ui/manifest.json with the
// message catalog merged from static/i18n/*.json, so adding a panel touches no
// other file.
//
// # Adding a panel
//
// 1. Write static/panels/tasks.js:
//
//	import { h, t, S, api, tbase, canWrite, form, table, register, flash } from "../core/kit.js";
//
//	register({
//	  id: "tasks", path: "tasks", group: "system", order: 50, nav: "tasks.nav",
//	  visible: () => S.me.role !== "tenant_admin",        // optional
//	  pages: async () => ["tasks/new"],                     // sub-pages for the i18n walk
//	  render: async (ctx) => {                              // #/tasks, #/tasks/<...>
//	    const res = await api("GET", "/tasks");
//	    ctx.show(t("tasks.nav"), table({ id: "tasks", columns: [...], rows: res.items }));
//	  },
//	});
//
// ctx.path holds the route's segments after the panel's path, ctx.query its
// query; ctx.show(title, ...nodes) puts the page up, ctx.go([...segments])
// navigates, ctx.setQuery({...}) changes the query, ctx.reload() re-renders.
// Groups are home, provisioning, services and system (core/registry.js).
//
// 2. Write static/i18n/tasks.json with every string in both languages; keys
// start with the file's name ("tasks.nav"). Messages are whole sentences with
// {named} placeholders: t("tasks.saved", {name}) never t("x") + name. Plural
// messages are objects of CLDR forms chosen by {n}: {"one": "...", "other":
// "... {n} ..."}. Use the KalliopePBX label where installers know one (the
// Italian menu entries "Lista dei dispositivi", "Attività pianificate", ...).
//
// 3. Show API data with v(x) (or mono, time) or in table cells (strings and
// numbers there are data): the i18n test treats any other text as a string
// that must come from the catalog.
//
// 4. Add a test in webui/e2e (see webuitest): create, edit and delete through
// the page, one validation error, the audit row. TestItalianEverywhere visits
// the new panel's pages by itself (its menu entry and what pages() lists).
//
// # Checks
//
// LoadCatalog refuses a catalog with a key missing in a language, a
// translation whose {placeholders} differ, or a key outside its file's
// namespace; TestCatalogCoversTheCode fails on a t("key") not in the catalog
// and on catalog entries no script uses. In check mode (set by the tests) t()
// wraps every message in invisible marks, and webuitest.Page.Untranslated
// lists any text on the page that is neither one whole message nor data.
package webui
