// The shell: start-up, login, the page frame (menu, tenant and language
// choice, user menu) and the hash router that hands each route to its panel.
"use strict";

import { h, v } from "./dom.js";
import { t, initI18n, setLang, lang, availableLanguages, missingKeys } from "./i18n.js";
import { S, api, APIError, setUnauthorizedHandler, fetchSession, firstSession, pickTenant as pick } from "./api.js";
import { groups, panels } from "./registry.js";
import { message, errorMessage, takeFlash } from "./ui.js";
import { form } from "./forms.js";

let gen = 0;          // render generation: a late answer never overwrites a newer page
let shown = 0;        // pages shown so far (tests and the benchmark wait on it)
let booted = false;

/**
 * start shows the login or the console. The catalog and every panel come
 * with the page's script (the server bundles them into one file), so the
 * only requests before the first page are the session's and the page's own.
 */
export async function start(messages, languages) {
  // A returning user's session was asked for when api.js ran (the page loads
  // it ahead of the rest): its answers are on their way.
  const session = firstSession();
  performance.mark("sb:start");
  initI18n(messages, languages);
  setUnauthorizedHandler(() => logout(false, t("core.session_ended")));
  // For the tests and the benchmark: what the page knows about itself.
  window.SB = {
    missingKeys,
    panels: () => panels.map((p) => ({ id: p.id, path: p.path, nav: !!p.nav, visible: !!(S.me && p.visible()) })),
    go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
    // Every panel is loaded (the menu is whole): they all come with the script.
    complete: () => true,
    // Every route of the visible panels: their menu page and the pages they list.
    routes: async () => {
      const out = [];
      for (const p of panels.filter((x) => x.visible())) {
        out.push(p.path);
        if (p.pages) out.push(...(await p.pages().catch(() => [])));
      }
      return out;
    },
  };
  window.addEventListener("hashchange", () => route());
  if (!S.token) loginPage();
  else await boot(session);
}

async function boot(session) {
  try {
    const [me, status, tl] = await (session || fetchSession());
    S.me = me;
    S.status = status;
    S.tenants = tl.items || [];
  } catch (err) {
    // A refused token asked for before the handler was set: the session is over.
    if (err.status === 401) { if (S.token) logout(false, t("core.session_ended")); return; }
    loginPage(t("core.api_unreachable"), err);
    return;
  }
  S.tenant = pickTenant();
  booted = true;
  performance.mark("sb:boot");
  route();
}

// pickTenant opens the console where the user worked last, else on the first
// tenant with devices, else on the first tenant (api.js decides it, as it
// asks for the device list's first page as soon as it knows it).
function pickTenant() { return pick(S.me, S.tenants); }

/** chooseTenant switches tenant and remembers it for the next login. */
export function chooseTenant(id) {
  S.tenant = id;
  api("PUT", "/me/preferences", { tenant: id }).catch(() => { /* a preference: never blocks */ });
}

/** refreshTenants reloads the tenant list (after a tenant is added or changed). */
export async function refreshTenants() {
  const tl = await api("GET", "/tenants");
  S.tenants = tl.items || [];
  if (!S.tenants.some((x) => x.id === S.tenant)) S.tenant = pickTenant();
}

function langSelect(id) {
  const sel = h("select", { id, "aria-label": t("core.language") },
    availableLanguages().map((l) => h("option", { value: l, selected: l === lang }, t("core.lang." + l))));
  sel.addEventListener("change", () => {
    setLang(sel.value);
    if (booted) route();
    else loginPage();
  });
  return sel;
}

function loginPage(note, err) {
  booted = false;
  document.title = t("core.title_login");
  const f = form({
    id: "login",
    submit: t("core.login"),
    fields: [
      { name: "username", label: t("core.username"), required: true, attrs: { autocomplete: "username", autofocus: true } },
      { name: "password", label: t("core.password"), type: "password", required: true, attrs: { autocomplete: "current-password" } },
    ],
    onSubmit: async (vals) => {
      const res = await api("POST", "/login", { username: vals.username, password: vals.password });
      S.token = res.token;
      localStorage.setItem("sb.token", S.token);
      await boot();
    },
  });
  mount(h("div", { class: "login panel" },
    h("div", { class: "login-head" }, h("h1", {}, t("core.brand")), langSelect("login-lang")),
    note ? message("error", h("strong", {}, note), err ? h("span", { class: "detail" }, v(err.message)) : null) : null,
    f.el));
  document.body.dataset.page = "login";
}

/** logout ends the session (revoking the token when asked) and shows the login. */
export async function logout(callAPI, note) {
  if (callAPI && S.token) {
    try { await api("POST", "/logout"); } catch (e) { /* gone already */ }
  }
  S.token = "";
  S.me = null;
  localStorage.removeItem("sb.token");
  if (location.hash && location.hash !== "#/") history.replaceState(null, "", "#/");
  loginPage(note);
}

function mount(...nodes) {
  document.getElementById("app").replaceChildren(...nodes);
}

function parseHash() {
  const raw = (location.hash || "#/").replace(/^#\/?/, "");
  const [p, qs] = raw.split("?");
  const segs = p.split("/").filter((x) => x !== "").map((x) => decodeURIComponent(x));
  return { segs, query: new URLSearchParams(qs || "") };
}

/** hashFor builds "#/seg/seg?query" (segments escaped, empty query values left out). */
export function hashFor(segs, query) {
  const p = segs.map((x) => encodeURIComponent(x)).join("/");
  const qp = new URLSearchParams();
  for (const [k, val] of Object.entries(query || {})) if (val !== undefined && val !== null && val !== "") qp.set(k, String(val));
  const qs = qp.toString();
  return "#/" + p + (qs ? "?" + qs : "");
}

function visiblePanels() { return panels.filter((p) => p.visible()); }

/** route renders the page of the current hash. */
export function route() {
  if (!S.token) { loginPage(); return; }
  if (!booted) { boot(); return; }
  const { segs, query } = parseHash();
  const vis = visiblePanels();
  let panel = vis.find((p) => p.path === (segs[0] || ""));
  if (!panel) panel = vis.find((p) => p.path === "") || vis[0];
  const rest = panel.path === "" ? segs : segs.slice(1);
  const my = ++gen;
  const ctx = {
    panel,
    path: rest,
    query,
    stale: () => my !== gen,
    show: (title, ...nodes) => {
      if (my !== gen) return false;
      performance.mark("sb:frame");
      frame(panel, title, nodes);
      window.__sbShown = { seq: ++shown, page: panel.id, path: location.hash || "#/", at: performance.now() };
      return true;
    },
    go: (segsOrHash, q) => {
      location.hash = typeof segsOrHash === "string" ? segsOrHash : hashFor(segsOrHash, q);
    },
    setQuery: (q) => {
      const next = hashFor([panel.path, ...rest].filter((x) => x !== ""), q);
      if (next === location.hash) route();
      else location.hash = next;
    },
    reload: () => route(),
  };
  const main = document.getElementById("main");
  if (main) main.setAttribute("aria-busy", "true");
  Promise.resolve().then(() => panel.render(ctx)).catch((err) => {
    if (err && err.sessionEnded) return;
    if (!(err instanceof APIError)) console.error(err);
    ctx.show(t(panel.nav || "core.error_title"), errorMessage(err instanceof APIError ? err : new APIError(0, String(err && err.message || err))));
  });
}

// navFor is the menu, with current marked.
function navFor(current) {
  return h("nav", { id: "nav", "aria-label": t("core.menu") },
    groups.map((g) => {
      const items = visiblePanels().filter((p) => p.group === g.id && p.nav);
      if (!items.length) return null;
      return h("div", { class: "nav-group" },
        h("div", { class: "nav-title" }, t(g.label)),
        h("ul", {}, items.map((p) => h("li", {},
          h("a", { href: "#/" + p.path, "data-panel": p.id, "aria-current": p.id === current ? "page" : null }, t(p.nav))))));
    }));
}

// frame puts a page up: header, menu, title and content.
function frame(panel, title, nodes) {
  document.title = t("core.title", { page: title });
  const sel = h("select", { id: "tenant", "aria-label": t("core.tenant") },
    S.tenants.map((x) => h("option", { value: x.id, selected: x.id === S.tenant, "data-v": "" }, x.name)));
  sel.addEventListener("change", () => {
    chooseTenant(sel.value);
    // An object's page belongs to the old tenant: go back to the panel's list.
    const { segs } = parseHash();
    if (segs.length > 1) location.hash = hashFor([segs[0]]);
    else route();
  });
  const role = t("core.role." + S.me.role);
  const header = h("header", { class: "top" },
    h("a", { class: "brand", href: "#/" }, t("core.brand")),
    h("label", { class: "tenant-pick" }, h("span", { class: "sr-only" }, t("core.tenant")), sel),
    h("div", { class: "spacer" }),
    langSelect("lang"),
    h("a", { class: "who", href: "#/profile", title: t("core.my_account") }, t("core.who", { user: S.me.username, role })),
    h("button", { type: "button", class: "secondary", id: "logout", onclick: () => logout(true) }, t("core.logout")));
  const nav = navFor(panel.id);
  const main = h("main", { id: "main", tabindex: "-1" }, h("h1", {}, title), takeFlash(), ...nodes);
  const skip = h("button", { type: "button", class: "skip", onclick: () => main.focus() }, t("core.skip"));
  // Keep the focus where it was when the same control is on the new page (a
  // search box being typed in, the tenant picker); else, on a new page, give
  // it to the content, where a screen reader starts reading.
  const active = document.activeElement;
  const keepID = active && active !== document.body && active.id ? active.id : "";
  const caret = active && typeof active.selectionStart === "number" ? active.selectionStart : null;
  const samePage = document.body.dataset.route === location.hash.split("?")[0];
  mount(skip, header, h("div", { class: "layout" }, nav, main));
  document.body.dataset.page = panel.id;
  document.body.dataset.route = location.hash.split("?")[0];
  const again = keepID && document.getElementById(keepID);
  if (again) {
    // A search box being typed in while its results loaded keeps what was
    // typed since (its own pending search then brings the page up to date).
    if (again.type === "search" && active.type === "search" && again.value !== active.value) again.value = active.value;
    again.focus({ preventScroll: true });
    if (caret !== null && typeof again.setSelectionRange === "function") {
      try { again.setSelectionRange(caret, caret); } catch (e) { /* not a text field */ }
    }
  } else if (!samePage) {
    main.focus({ preventScroll: true });
  }
}
