// The tenant's catalog (brands, models, templates) as several panels show it,
// fetched once and kept for 30 s; panels that change it call invalidate().
"use strict";

import { api, tbase, S } from "../../core/kit.js";

let cached = null; // {tenant, at, withTemplates, value}

/** catalog returns {brands, models, templates} (templates only when asked). */
export async function catalog(opts) {
  const withTemplates = !!(opts && opts.templates);
  const now = Date.now();
  if (cached && cached.tenant === S.tenant && now - cached.at < 30000 && (cached.withTemplates || !withTemplates)) {
    return cached.value;
  }
  const [b, m, tl] = await Promise.all([
    api("GET", "/brands"), api("GET", tbase() + "/models"),
    withTemplates ? api("GET", tbase() + "/templates") : Promise.resolve({ items: [] }),
  ]);
  const value = { brands: b.items || [], models: m.items || [], templates: tl.items || [] };
  cached = { tenant: S.tenant, at: now, withTemplates, value };
  return value;
}

/** invalidate forgets the cached catalog (after a model or template changed). */
export function invalidate() { cached = null; }

/** brandName is a brand's display name (a user brand is its own name). */
export function brandName(cat, id) {
  const b = cat.brands.find((x) => x.id === id);
  return b ? b.name : id;
}

/** modelLabel is "Brand Model" for a model id (the id when unknown). */
export function modelLabel(cat, id) {
  const m = cat.models.find((x) => x.id === id);
  return m ? `${brandName(cat, m.brand)} ${m.name}` : id;
}

/** brandOptions: built-in brands and the brands of user models, as select options. */
export function brandOptions(cat) {
  const ids = new Set(cat.brands.map((b) => b.id));
  for (const m of cat.models) ids.add(m.brand);
  return [...ids].map((id) => ({ value: id, label: brandName(cat, id), data: true }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** accountLabel is "201 Grace Hopper" (or the extension alone). */
export function accountLabel(a) {
  return a.display_name ? `${a.extension} ${a.display_name}` : a.extension || "";
}
