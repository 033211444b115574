// The admin API client and the session. The console is a thin client: every read
// and write is an /api/v1 call with the user's bearer token, so roles and
// validation are the API's.
//
// The page loads this module on its own, ahead of the bundle of the rest
// (which imports it from the same URL, so there is one instance of it): a
// returning user's session is asked for as soon as it runs, while the rest of
// the console is still being fetched and compiled.
"use strict";

/** S is the session: who is logged in, the appliance, the chosen tenant. */
export const S = {
  // The token is kept in localStorage so that a second tab is logged in too;
  // it expires on the server (admin.token_ttl) and logout revokes it.
  token: localStorage.getItem("sb.token") || "",
  me: null,      // GET /me
  status: null,  // GET /status
  tenants: [],   // the tenants this user sees
  tenant: "",    // the chosen tenant's id
};

export class APIError extends Error {
  constructor(status, msg, field) {
    super(msg);
    this.status = status;
    this.field = field || "";
  }
}

let onUnauthorized = () => {};
/** setUnauthorizedHandler is called when the token is refused (session over). */
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

/**
 * api calls the admin API. body: an object (sent as JSON), or a Blob/File (sent
 * as is, opts.type its Content-Type). opts.text: answer the body as text.
 */
export async function api(method, path, body, opts) {
  opts = opts || {};
  const req = { method, headers: {} };
  if (S.token) req.headers["Authorization"] = "Bearer " + S.token;
  if (body instanceof Blob) {
    req.headers["Content-Type"] = opts.type || body.type || "application/octet-stream";
    req.body = body;
  } else if (body !== undefined) {
    req.headers["Content-Type"] = "application/json";
    req.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch("/api/v1" + path, req);
  } catch (e) {
    throw new APIError(0, String(e.message || e));
  }
  const text = await resp.text();
  if (opts.text && resp.ok) return text;
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (resp.status === 401 && path !== "/login") {
    onUnauthorized();
    const err = new APIError(401, (data && data.error) || "unauthorized");
    err.sessionEnded = true; // the login page is up: nothing more to show
    throw err;
  }
  if (!resp.ok) {
    throw new APIError(resp.status, (data && data.error) || text || resp.statusText, data && data.field);
  }
  return data;
}

/** tbase is the API path of the chosen tenant. */
export function tbase(tenant) { return "/tenants/" + encodeURIComponent(tenant || S.tenant); }

/** canWrite: the role may change things (auditors may not). */
export function canWrite() { return !!S.me && S.me.role !== "auditor"; }

/** isAdmin: a global admin. */
export function isAdmin() { return !!S.me && S.me.role === "admin"; }

/** feature reports whether a service's API is on (redirect, dhcp, pnp, cti, ha). */
export function feature(name) { return !!(S.status && S.status.features && S.status.features.includes(name)); }

/** tenantName is a tenant's name for display. */
export function tenantName(id) {
  const t = S.tenants.find((x) => x.id === id);
  return t ? t.name : id;
}

/** q builds a query string from an object, leaving out empty values. */
export function q(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? "?" + s : "";
}

/** fetchSession asks for who is logged in, the appliance and the tenants, at once (after a login). */
export function fetchSession() {
  const p = Promise.all([api("GET", "/me"), api("GET", "/status"), api("GET", "/tenants")]);
  p.catch(() => { /* the caller handles it */ });
  return p;
}

/**
 * pickTenant opens the console where the user worked last, else on the first
 * tenant with devices, else on the first tenant.
 */
export function pickTenant(me, tenants) {
  const ids = tenants.map((x) => x.id);
  if (me.last_tenant && ids.includes(me.last_tenant)) return me.last_tenant;
  const withDevices = tenants.find((x) => x.devices > 0);
  if (withDevices) return withDevices.id;
  return ids[0] || "";
}

/** DEVICE_PAGE is how many devices a page of the device list shows. */
export const DEVICE_PAGE = 50;

/** devicePagePath is the API call of a page of the device list. */
export function devicePagePath(tenant, search, offset) {
  return tbase(tenant) + "/devices" + q({ q: search, limit: DEVICE_PAGE, offset });
}

let first = null;
let early = null; // a promise of {path, answer}: the first page's own call, asked for with the session

if (S.token) {
  const me = api("GET", "/me");
  first = Promise.all([me, api("GET", "/status"), api("GET", "/tenants")]);
  first.catch(() => { /* the caller handles it */ });
  // A console opened on the device list (a bookmark, a reload) asks for its
  // page as soon as the tenant is known, not after the rest of the console
  // is loaded and the session is in: from /me alone when it names the
  // tenant the user worked on last (the usual case), else once the tenants
  // are in too. The panel takes it only if it makes the same call.
  const m = /^#\/devices(?:\?(.*))?$/.exec(location.hash);
  if (m) {
    const query = new URLSearchParams(m[1] || "");
    const offset = Math.max(0, parseInt(query.get("offset") || "0", 10) || 0);
    const ask = (tenant) => {
      const path = devicePagePath(tenant, query.get("q") || "", offset);
      const answer = api("GET", path);
      answer.catch(() => { /* the panel asks again */ });
      return { path, answer };
    };
    early = me.then((who) => (who.last_tenant ? ask(who.last_tenant)
      : first.then(([, , tl]) => ask(pickTenant(who, tl.items || []))))).catch(() => null);
  }
}

/** firstSession hands over, once, the session asked for when the page loaded (null if none). */
export function firstSession() {
  const p = first;
  first = null;
  return p;
}

/**
 * getFirst is api("GET", path), answered by the call the page made while
 * loading when it was the same one (once; a failed one is asked again).
 */
export async function getFirst(path) {
  const e = early;
  early = null;
  const got = e && await e;
  if (got && got.path === path) {
    try {
      return await got.answer;
    } catch (err) {
      if (err.sessionEnded) throw err;
    }
  }
  return api("GET", path);
}
