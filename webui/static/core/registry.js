// The panel registry. Each file in webui/static/panels/ registers its panel(s)
// when imported; the server lists those files in /ui/manifest.json, so adding a
// panel is adding a file (and its strings in webui/static/i18n/), nothing else.
"use strict";

/** The menu's groups, in order. A panel names one of them. */
export const groups = [
  { id: "home", label: "core.group.home" },
  { id: "provisioning", label: "core.group.provisioning" },
  { id: "services", label: "core.group.services" },
  { id: "system", label: "core.group.system" },
];

/** panels, sorted by group then order. */
export const panels = [];

/**
 * register adds a panel.
 *
 * id       unique name (also the body's data-page while it is shown)
 * path     the first segment of its route: "devices" serves #/devices and
 *          #/devices/<anything>; "" is the start page
 * group    a group id above
 * order    position in its group (smaller first)
 * nav      the message key of its menu entry, or null for no entry
 * visible  () => bool: shown in the menu and routable (roles, services on)
 * render   async (ctx) => ...; ctx.show(title, ...nodes) puts the page up (see
 *          shell.js for the rest of ctx)
 * pages    async () => ["devices/new", "devices/<id>"]: the panel's other
 *          routes worth visiting, for the test that walks every page
 */
export function register(p) {
  for (const k of ["id", "path", "group", "render"]) {
    if (p[k] === undefined) throw new Error(`panel ${p.id || "?"}: ${k} is required`);
  }
  if (!groups.some((g) => g.id === p.group)) throw new Error(`panel ${p.id}: unknown group ${p.group}`);
  if (panels.some((x) => x.id === p.id || x.path === p.path)) throw new Error(`panel ${p.id}: id or path taken`);
  panels.push(Object.assign({ order: 100, nav: null, visible: () => true }, p));
  const gi = (x) => groups.findIndex((g) => g.id === x.group);
  // Ids are ASCII: compared as such (a collator costs a fresh page its set-up).
  panels.sort((a, b) => gi(a) - gi(b) || a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
