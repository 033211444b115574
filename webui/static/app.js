// Switchboard web console: a thin client of the admin REST API (/api/v1).
// Every value from the API is inserted as text (h() never parses HTML), and the
// page's Content-Security-Policy allows no inline script, so data cannot run.
"use strict";

const S = {
  token: sessionStorage.getItem("sb.token") || "",
  me: null,        // GET /me
  status: null,    // GET /status
  tenants: [],     // visible tenants
  tenant: sessionStorage.getItem("sb.tenant") || "",
};

// ---- DOM helpers ----

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function mount(...nodes) {
  const app = document.getElementById("app");
  app.replaceChildren(...nodes);
}

function field(label, input) { return h("label", {}, label, input); }

function message(kind, text) { return h("div", { class: "msg " + kind, role: kind === "error" ? "alert" : "status" }, text); }

function fmtTime(s) {
  if (!s) return "-";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

// ---- API ----

class APIError extends Error {
  constructor(status, msg, fieldName) { super(msg); this.status = status; this.field = fieldName || ""; }
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (S.token) opts.headers["Authorization"] = "Bearer " + S.token;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, opts);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (resp.status === 401 && path !== "/login") {
    logout(false, "Your session ended: log in again.");
    throw new APIError(401, "not logged in");
  }
  if (!resp.ok) {
    throw new APIError(resp.status, (data && data.error) || text || resp.statusText, data && data.field);
  }
  return data;
}

function tbase() { return "/tenants/" + encodeURIComponent(S.tenant); }
function canWrite() { return S.me && S.me.role !== "auditor"; }
function isAdmin() { return S.me && S.me.role === "admin"; }

// showError puts an API error above a form and marks the field it names.
function showError(box, form, err) {
  box.replaceChildren(message("error", err.message));
  if (form) {
    for (const el of form.querySelectorAll(".bad")) el.classList.remove("bad");
    if (err.field) {
      const el = form.querySelector(`[name="${CSS.escape(err.field)}"]`);
      if (el) { el.classList.add("bad"); el.focus(); }
    }
  }
}

// formData reads a form's named inputs; empty values are left out.
function formData(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.value !== "") out[el.name] = el.value;
  }
  return out;
}

// ---- login ----

function loginPage(note) {
  const box = h("div");
  // method=post: even a submit that bypasses the handler never puts the
  // password in a URL (POST / answers 405).
  const form = h("form", { class: "panel", id: "login", method: "post", action: "/" },
    h("h1", {}, "Switchboard"),
    note ? message("error", note) : null,
    box,
    field("Username", h("input", { name: "username", autocomplete: "username", required: true, autofocus: true })),
    field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const d = formData(form);
    try {
      const res = await api("POST", "/login", { username: d.username || "", password: d.password || "" });
      S.token = res.token;
      sessionStorage.setItem("sb.token", S.token);
      await boot();
    } catch (err) {
      showError(box, form, err);
    }
  });
  mount(h("div", { class: "login" }, form));
}

async function logout(callAPI, note) {
  if (callAPI && S.token) { try { await api("POST", "/logout"); } catch (e) { /* gone already */ } }
  S.token = ""; S.me = null;
  sessionStorage.removeItem("sb.token");
  loginPage(note);
}

// ---- shell ----

const pages = [
  ["#/", "Overview", overviewPage],
  ["#/devices", "Devices", devicesPage],
  ["#/accounts", "Accounts", accountsPage],
  ["#/unknown", "Unknown phones", unknownPage],
  ["#/files", "Files", filesPage],
  ["#/audit", "Audit log", auditPage],
  ["#/users", "Users", usersPage],
  ["#/tenants", "Tenants", tenantsPage],
];

async function boot() {
  try {
    [S.me, S.status] = await Promise.all([api("GET", "/me"), api("GET", "/status")]);
    const t = await api("GET", "/tenants");
    S.tenants = t.items || [];
  } catch (err) {
    if (err.status !== 401) loginPage("Cannot reach the API: " + err.message);
    return;
  }
  if (!S.tenants.some((t) => t.id === S.tenant)) S.tenant = S.tenants.length ? S.tenants[0].id : "";
  route();
}

function shell(title, ...content) {
  const here = location.hash || "#/";
  const nav = h("nav", {}, pages
    .filter(([hash]) => hash !== "#/users" || S.me.role !== "auditor")
    .map(([hash, label]) => h("a", { href: hash, class: hash === here.split("?")[0] ? "active" : "" }, label)));
  const sel = h("select", { id: "tenant", "aria-label": "Tenant", onchange: (ev) => {
    S.tenant = ev.target.value; sessionStorage.setItem("sb.tenant", S.tenant); route();
  } }, S.tenants.map((t) => h("option", { value: t.id, selected: t.id === S.tenant }, t.name)));
  const who = h("span", { class: "who" }, `${S.me.username} (${S.me.role.replace("_", " ")})`);
  const out = h("button", { class: "secondary", id: "logout", onclick: () => logout(true) }, "Log out");
  mount(h("header", {}, h("span", { class: "brand" }, "Switchboard"), nav, sel, who, out),
    h("main", {}, h("h1", {}, title), ...content));
}

function route() {
  if (!S.token) { loginPage(); return; }
  if (!S.me) { boot(); return; }
  const hash = (location.hash || "#/").split("?")[0];
  const page = pages.find(([p]) => p === hash) || pages[0];
  page[2]().catch((err) => {
    if (err.status !== 401) shell(page[1], message("error", err.message));
  });
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);

// ---- pages ----

async function overviewPage() {
  const [dev, acc, unk] = await Promise.all([
    api("GET", tbase() + "/devices"), api("GET", tbase() + "/accounts"), api("GET", tbase() + "/unknown-devices")]);
  const devices = dev.items || [];
  const withFile = devices.filter((d) => d.file).length;
  const card = (n, l, href) => h("a", { href, class: "card cardlink" },
    h("div", { class: "n" }, n), h("div", { class: "l" }, l));
  const tenant = S.tenants.find((t) => t.id === S.tenant);
  shell("Overview",
    h("div", { class: "cards" },
      card(devices.length, "devices", "#/devices"),
      card(withFile, "devices with a file", "#/files"),
      card((acc.items || []).length, "accounts", "#/accounts"),
      card((unk.items || []).length, "phones seen, not configured", "#/unknown")),
    h("div", { class: "panel", id: "status" },
      h("h2", {}, "Appliance"),
      h("table", {}, h("tbody", {},
        h("tr", {}, h("th", {}, "Version"), h("td", {}, S.status.version)),
        h("tr", {}, h("th", {}, "Configuration revision"), h("td", { id: "revision" }, S.status.revision)),
        h("tr", {}, h("th", {}, "Tenancy"), h("td", {}, S.status.tenancy_mode)),
        h("tr", {}, h("th", {}, "Tenant"), h("td", {}, tenant ? `${tenant.name} (${tenant.id})` : "-")),
        h("tr", {}, h("th", {}, "Provisioning path"), h("td", { class: "mono" },
          S.status.tenancy_mode === "multi" ? `/provisioning/${S.tenant}/<file>` : "/provisioning/<file>"))))));
}

async function loadModels() {
  const m = await api("GET", tbase() + "/models");
  return (m.items || []).sort((a, b) => (a.brand + a.name).localeCompare(b.brand + b.name));
}

function accountLabel(a) { return a.display_name ? `${a.extension} ${a.display_name}` : a.extension; }

function accountSelect(accounts, name) {
  return h("select", { name }, h("option", { value: "" }, "(none: saved disabled)"),
    accounts.map((a) => h("option", { value: name === "account" ? a.id : a.extension }, accountLabel(a))));
}

async function devicesPage() {
  const [dev, acc, models] = await Promise.all([
    api("GET", tbase() + "/devices"), api("GET", tbase() + "/accounts"), loadModels()]);
  const accounts = acc.items || [];
  const byID = Object.fromEntries(accounts.map((a) => [a.id, a]));
  const box = h("div");
  const rows = (dev.items || []).map((d) => h("tr", { "data-mac": d.mac },
    h("td", { class: "mono" }, d.mac),
    h("td", {}, d.model),
    h("td", {}, d.account && byID[d.account] ? accountLabel(byID[d.account]) : "-"),
    h("td", {}, d.enabled ? h("span", { class: "tag good" }, "enabled") : h("span", { class: "tag" }, "disabled")),
    h("td", { class: "mono" }, d.file || h("span", { class: "tag warn" }, d.problem || "no file")),
    h("td", {}, redirectTag(d.redirect)),
    h("td", {}, d.notes || ""),
    h("td", {}, canWrite() ? h("button", { class: "danger", onclick: async () => {
      if (!confirm(`Delete device ${d.mac}?`)) return;
      try { await api("DELETE", tbase() + "/devices/" + d.id); route(); } catch (err) { showError(box, null, err); }
    } }, "Delete") : null)));
  let form = null;
  if (canWrite()) {
    form = h("form", { class: "inline panel", id: "add-device" },
      field("MAC", h("input", { name: "mac", placeholder: "00:15:65:12:34:56", required: true, size: 17 })),
      field("Model", h("select", { name: "model", required: true }, models.map((m) => h("option", { value: m.id }, `${m.brand} ${m.name}`)))),
      field("Account", accountSelect(accounts, "account")),
      field("Notes", h("input", { name: "notes" })),
      h("button", { type: "submit" }, "Add device"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", tbase() + "/devices", formData(form)); route(); } catch (err) { showError(box, form, err); }
    });
  }
  shell("Devices", box, form,
    h("table", { id: "devices" }, h("thead", {}, h("tr", {}, ["MAC", "Model", "Account", "State", "File", "Redirection", "Notes", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No devices yet.")))));
}

// redirectTag shows a device's vendor redirection status (read-only, from the
// reconcile loop): provisioned, or the last error in plain words.
function redirectTag(r) {
  if (!r) return "-";
  if (r.provisioned) return h("span", { class: "tag good", title: r.server || "" }, "provisioned");
  if (r.error) return h("span", { class: "tag bad", title: r.detail || "" }, r.error);
  return h("span", { class: "tag" }, "pending");
}

async function accountsPage() {
  const acc = await api("GET", tbase() + "/accounts");
  const box = h("div");
  const rows = (acc.items || []).map((a) => {
    const secret = h("span", { class: "mono" }, "••••••");
    const toggle = h("button", { class: "secondary", onclick: () => {
      const shown = secret.textContent !== "••••••";
      secret.textContent = shown ? "••••••" : a.sip_password;
      toggle.textContent = shown ? "Show" : "Hide";
    } }, "Show");
    return h("tr", { "data-extension": a.extension },
      h("td", {}, a.extension), h("td", {}, a.display_name || "-"), h("td", { class: "mono" }, a.sip_username || a.extension),
      h("td", {}, secret, " ", toggle),
      h("td", {}, canWrite() ? h("button", { class: "danger", onclick: async () => {
        if (!confirm(`Delete account ${a.extension}?`)) return;
        try { await api("DELETE", tbase() + "/accounts/" + a.id); route(); } catch (err) { showError(box, null, err); }
      } }, "Delete") : null));
  });
  let form = null;
  if (canWrite()) {
    form = h("form", { class: "inline panel", id: "add-account" },
      field("Extension", h("input", { name: "extension", required: true, size: 8 })),
      field("Display name", h("input", { name: "display_name" })),
      field("First name", h("input", { name: "first_name", size: 10 })),
      field("Last name", h("input", { name: "last_name", size: 10 })),
      field("SIP password", h("input", { name: "sip_password", value: randomSecret(), size: 16 })),
      h("button", { type: "submit" }, "Add account"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", tbase() + "/accounts", formData(form)); route(); } catch (err) { showError(box, form, err); }
    });
  }
  shell("Accounts", box, form,
    h("table", { id: "accounts" }, h("thead", {}, h("tr", {}, ["Extension", "Name", "SIP user", "SIP password", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No accounts yet.")))));
}

function randomSecret() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  const abc = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  return Array.from(a, (b) => abc[b % abc.length]).join("");
}

async function unknownPage() {
  const [unk, acc, models] = await Promise.all([
    api("GET", tbase() + "/unknown-devices"), api("GET", tbase() + "/accounts"), loadModels()]);
  const accounts = acc.items || [];
  const box = h("div");
  const rows = (unk.items || []).map((u) => {
    const guesses = u.models || [];
    const best = guesses.length && (guesses.length === 1 || guesses[0].score > guesses[1].score) ? guesses[0].model : "";
    let adopt = null;
    if (canWrite()) {
      const f = h("form", { class: "inline", "data-mac": u.mac },
        h("select", { name: "model", "aria-label": "Model" },
          h("option", { value: "" }, best ? "(best guess)" : "(choose a model)"),
          guesses.map((g) => h("option", { value: g.model, selected: g.model === best }, `${g.brand} ${g.name} (guess)`)),
          models.map((m) => h("option", { value: m.id }, `${m.brand} ${m.name}`))),
        h("select", { name: "account_extension", "aria-label": "Account" }, h("option", { value: "" }, "(no account)"),
          accounts.map((a) => h("option", { value: a.extension }, accountLabel(a)))),
        h("button", { type: "submit" }, "Adopt"));
      f.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          const d = await api("POST", tbase() + "/unknown-devices/" + encodeURIComponent(u.mac) + "/adopt", formData(f));
          sessionStorage.setItem("sb.flash", `Adopted ${d.mac} as ${d.model}` + (d.file ? `: ${d.file}` : ` (${d.problem || "no file"})`));
          route();
        } catch (err) { showError(box, f, err); }
      });
      adopt = f;
    }
    return h("tr", { "data-mac": u.mac },
      h("td", { class: "mono" }, u.mac), h("td", {}, u.ip), h("td", { class: "mono" }, u.file),
      h("td", {}, u.user_agent || "-"), h("td", {}, fmtTime(u.last_seen)), h("td", {}, u.requests),
      h("td", {}, guesses.length ? guesses[0].model : h("span", { class: "muted" }, "none")), h("td", {}, adopt));
  });
  const flash = sessionStorage.getItem("sb.flash");
  sessionStorage.removeItem("sb.flash");
  shell("Phones seen, not configured", flash ? message("ok", flash) : null, box,
    h("p", { class: "muted" }, "Phones that asked for a file nobody configured. Adopting one makes it a device; the model is guessed from the file it asked for, its User-Agent and its MAC."),
    h("table", { id: "unknown" }, h("thead", {}, h("tr", {}, ["MAC", "Address", "File", "User-Agent", "Last seen", "Requests", "Best guess", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No unknown phones.")))));
}

async function filesPage() {
  const res = await api("GET", tbase() + "/files");
  const view = h("div", { id: "file-view" });
  const rows = (res.items || []).map((f) => h("tr", { class: "clickable", "data-name": f.name, onclick: async () => {
    try {
      const c = await api("GET", tbase() + "/files/" + encodeURIComponent(f.name));
      view.replaceChildren(h("h2", {}, f.name), h("pre", {}, c.content));
    } catch (err) { view.replaceChildren(message("error", err.message)); }
  } },
  h("td", { class: "mono" }, f.name), h("td", {}, f.size), h("td", {}, fmtTime(f.modified)),
  h("td", { class: "mono" }, f.mac || "common"), h("td", {}, f.secret ? h("span", { class: "tag warn" }, "credentials") : "")));
  shell("Generated files",
    h("table", { id: "files" }, h("thead", {}, h("tr", {}, ["Name", "Bytes", "Modified", "Device", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No files.")))),
    view);
}

async function auditPage() {
  const q = new URLSearchParams((location.hash.split("?")[1]) || "");
  const limit = 50;
  const offset = parseInt(q.get("offset") || "0", 10) || 0;
  const params = new URLSearchParams();
  for (const k of ["month", "day", "user", "object_type", "action"]) if (q.get(k)) params.set(k, q.get(k));
  params.set("limit", limit); params.set("offset", offset);
  const res = await api("GET", "/audit?" + params.toString());
  const detail = h("div", { id: "audit-detail" });
  const box = h("div");
  const filters = h("form", { class: "inline panel", id: "audit-filters" },
    field("Month", h("input", { name: "month", placeholder: "YYYY-MM", value: q.get("month") || "", size: 8 })),
    field("Day", h("input", { name: "day", placeholder: "YYYY-MM-DD", value: q.get("day") || "", size: 10 })),
    field("User", h("input", { name: "user", value: q.get("user") || "", size: 10 })),
    field("Object type", h("input", { name: "object_type", value: q.get("object_type") || "", size: 10 })),
    field("Action", h("select", { name: "action" }, ["", "create", "update", "delete", "restore"].map((a) =>
      h("option", { value: a, selected: a === (q.get("action") || "") }, a || "(any)")))),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", class: "secondary", id: "verify", onclick: async () => {
      try {
        const v = await api("GET", "/audit/verify");
        box.replaceChildren(v.ok ? message("ok", `Audit chain intact: ${v.rows} rows.`)
          : message("error", `Audit chain broken: ${(v.problems || []).map((p) => `row ${p.row}: ${p.reason}`).join("; ")}`));
      } catch (err) { showError(box, null, err); }
    } }, "Verify chain"));
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams(formData(filters));
    location.hash = "#/audit?" + p.toString();
  });
  const rows = (res.items || []).map((r) => h("tr", { class: "clickable", "data-id": r.id, onclick: () => {
    detail.replaceChildren(
      h("h2", {}, `Change ${r.id}: ${r.description}`),
      h("p", { class: "muted" }, `${fmtTime(r.time)} by ${r.user} from ${r.source_ip}, transaction ${r.tx_id}`),
      h("div", { class: "row" },
        h("div", {}, h("h2", {}, "Before"), h("pre", {}, r.before ? JSON.stringify(r.before, null, 2) : "(none)")),
        h("div", {}, h("h2", {}, "After"), h("pre", {}, r.after ? JSON.stringify(r.after, null, 2) : "(none)"))),
      canWrite() ? h("button", { class: "secondary", id: "restore", onclick: async () => {
        if (!confirm(`Restore the state before change ${r.id}? This is itself a new, audited change.`)) return;
        try { await api("POST", `/audit/${r.id}/restore`); route(); } catch (err) { detail.prepend(message("error", err.message)); }
      } }, "Restore the before-image") : null);
  } },
  h("td", {}, r.id), h("td", {}, fmtTime(r.time)), h("td", {}, r.user), h("td", {}, r.source_ip),
  h("td", {}, r.action), h("td", {}, r.object_type), h("td", {}, r.description)));
  const page = (off) => { q.set("offset", Math.max(0, off)); location.hash = "#/audit?" + q.toString(); };
  shell("Audit log", filters, box,
    h("table", { id: "audit" }, h("thead", {}, h("tr", {}, ["#", "Time", "User", "From", "Action", "Type", "Description"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No changes match.")))),
    h("div", { class: "pager" },
      h("button", { class: "secondary", disabled: offset === 0, onclick: () => page(offset - limit) }, "Newer"),
      h("span", { class: "muted" }, `${res.total ? offset + 1 : 0}-${offset + (res.items || []).length} of ${res.total}`),
      h("button", { class: "secondary", disabled: offset + limit >= res.total, onclick: () => page(offset + limit) }, "Older")),
    detail);
}

async function usersPage() {
  const res = await api("GET", "/users");
  const box = h("div");
  const names = Object.fromEntries(S.tenants.map((t) => [t.id, t.name]));
  const rows = (res.items || []).map((u) => h("tr", { "data-user": u.username },
    h("td", {}, u.username), h("td", {}, u.full_name || "-"), h("td", {}, u.role.replace("_", " ")),
    h("td", {}, u.tenant ? names[u.tenant] || u.tenant : "-"),
    h("td", {}, u.disabled ? h("span", { class: "tag bad" }, "disabled") : h("span", { class: "tag good" }, "active")),
    h("td", {}, canWrite() && u.username !== S.me.username ? h("button", { class: "danger", onclick: async () => {
      if (!confirm(`Delete user ${u.username}?`)) return;
      try { await api("DELETE", "/users/" + encodeURIComponent(u.username)); route(); } catch (err) { showError(box, null, err); }
    } }, "Delete") : null)));
  let form = null;
  if (canWrite()) {
    const roles = isAdmin() ? ["tenant_admin", "auditor", "admin"] : ["tenant_admin"];
    form = h("form", { class: "inline panel", id: "add-user" },
      field("Username", h("input", { name: "username", required: true, size: 12 })),
      field("Full name", h("input", { name: "full_name" })),
      field("Role", h("select", { name: "role" }, roles.map((r) => h("option", { value: r }, r.replace("_", " "))))),
      field("Tenant", h("select", { name: "tenant" }, h("option", { value: "" }, "(none)"),
        S.tenants.map((t) => h("option", { value: t.id, selected: t.id === S.tenant }, t.name)))),
      field("Password", h("input", { name: "password", type: "password", autocomplete: "new-password", required: true })),
      h("button", { type: "submit" }, "Add user"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = formData(form);
      if (d.role !== "tenant_admin") delete d.tenant;
      try { await api("POST", "/users", d); route(); } catch (err) { showError(box, form, err); }
    });
  }
  shell("Users", box, form,
    h("table", { id: "users" }, h("thead", {}, h("tr", {}, ["Username", "Name", "Role", "Tenant", "State", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)));
}

async function tenantsPage() {
  const res = await api("GET", "/tenants");
  const box = h("div");
  const rows = (res.items || []).map((t) => h("tr", { "data-tenant": t.name },
    h("td", {}, t.name), h("td", { class: "mono" }, t.id), h("td", {}, t.description || "-"),
    h("td", {}, t.enabled ? h("span", { class: "tag good" }, "enabled") : h("span", { class: "tag" }, "disabled")),
    h("td", {}, fmtTime(t.created))));
  let form = null;
  if (isAdmin() && S.status.tenancy_mode === "multi") {
    form = h("form", { class: "inline panel", id: "add-tenant" },
      field("Name", h("input", { name: "name", required: true })),
      field("Description", h("input", { name: "description" })),
      h("button", { type: "submit" }, "Add tenant"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/tenants", formData(form)); S.me = null; await boot(); } catch (err) { showError(box, form, err); }
    });
  }
  shell("Tenants", box, form,
    S.status.tenancy_mode === "single" ? h("p", { class: "muted" }, "Single-tenant mode: one tenant, files at /provisioning/<file>.") : null,
    h("table", { id: "tenants" }, h("thead", {}, h("tr", {}, ["Name", "UUID", "Description", "State", "Created"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)));
}
