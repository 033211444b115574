// Package webui is the web admin console served at / on the HTTPS listener.
//
// It is a single-page application in plain JavaScript modules (no build step
// outside the Go toolchain, no third-party code in the page) embedded in the
// binary. It holds no logic of its own:
// every read and write goes through the admin REST API under /api/v1 with the
// same bearer tokens, roles, validation and audit rows as the CLI, so the
// console can never do what the API would refuse. Pages insert data as text,
// never as HTML, and a strict Content-Security-Policy forbids inline and
// foreign scripts (scripts are loaded from /ui/ only).
//
// # Layout
//
//	static/index.html       the page: loads core/api.js, then console.js
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
// The server writes three more files at start: catalog.js, the message
// catalog merged from static/i18n/*.json (each language one JSON text, parsed
// when chosen); panels.js, an import of every static/panels/*.js, so adding a
// panel touches no other file; and console.js, app.js bundled with all it
// imports (esbuild's Go API, minified) except core/api.js.
//
// # Loading
//
// The page loads two scripts: core/api.js, which asks for a returning user's
// session (me, status, tenants) as soon as it runs, and console.js, the rest
// of the console, which imports api.js from the same URL (one instance of
// it). So a first page costs the page, its style sheet, those two scripts
// (fetched in parallel), the session's calls (in flight while console.js is
// fetched and compiled) and the page's own calls: no module waterfall, no
// catalog request, no panel import before the page. A console opened on the
// device list (#/devices, with its search and offset) does not wait for the
// session to ask for its page either: api.js asks for it as soon as /me names
// the tenant the user worked on last (else once the tenants are in, by the
// same choice as the shell's, pickTenant), and the panel takes that answer
// through getFirst(path) when it makes the same call. Its one call is all it
// needs: each device comes with its account's extension and name and its
// model's label (model_label), so /brands and the tenant's models are asked
// for only by the pages that edit or filter by them. The first page also
// avoids what a fresh page pays dearly for: no Intl.NumberFormat (whole
// numbers are grouped by i18n.js, as Intl does; a test compares them in
// Chromium) and no collator. The page marks its timeline (sb:script, sb:start,
// sb:boot, sb:devices when the list's data is in, sb:frame before the page is
// built into the document), which bench/console prints with
// CONSOLEBENCH_MARKS set.
//
// Every file is served under a URL carrying the build's version (?v=<hash of
// all files>, added to the references by the server) and is then cached for
// good; the page itself is revalidated. The files go out gzip-compressed
// (compressed once at start). The source modules are served one by one too,
// readable, under the same versioned URLs. A browser told to ignore the
// appliance's self-signed certificate caches nothing, which is why the cold
// load is what bench/console measures: the devices page's first page in
// Chromium, from about:blank, by the page's own clock.
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
