// Lists: a table of rows (a row opens with a click or Enter), a pager for
// server-side paging, a search box and a column chooser.
"use strict";

import { h, v, debounce, uid } from "./dom.js";
import { t } from "./i18n.js";

/**
 * table builds a list.
 *
 * id       the table's id
 * columns  [{id, label, value: (row) => node|string|number, cls}]; a string or
 *          number value is API data (marked data-v)
 * rows     the items
 * attrs    (row) => attributes of the <tr> (data-mac=...)
 * onOpen   (row) => ...: the row is a link (click, Enter or Space)
 * empty    the text shown when there are no rows
 * visible  ids of the columns to show (column chooser), default all
 * caption  an accessible name
 */
export function table({ id, columns, rows, attrs, onOpen, empty, visible, caption }) {
  const cols = visible ? columns.filter((c) => visible.includes(c.id)) : columns;
  const head = h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c.cls }, c.label || ""))));
  const body = h("tbody", {});
  if (!rows.length) {
    body.append(h("tr", { class: "empty" }, h("td", { colspan: cols.length, class: "muted" }, empty || t("core.empty"))));
  }
  for (const r of rows) {
    const tr = h("tr", attrs ? attrs(r) : {});
    if (onOpen) {
      tr.classList.add("clickable");
      tr.tabIndex = 0;
      tr.addEventListener("click", (ev) => {
        if (ev.target.closest("button, a, input, select, label")) return;
        onOpen(r, ev);
      });
      tr.addEventListener("keydown", (ev) => {
        if ((ev.key === "Enter" || ev.key === " ") && ev.target === tr) {
          ev.preventDefault();
          onOpen(r, ev);
        }
      });
    }
    for (const c of cols) {
      let val = c.value(r);
      if (typeof val === "string" || typeof val === "number") val = v(val, c.mono ? "mono" : undefined);
      tr.append(h("td", { class: c.cls }, val));
    }
    body.append(tr);
  }
  return h("div", { class: "table-wrap" }, h("table", { id, class: "list" }, caption ? h("caption", { class: "sr-only" }, caption) : null, head, body));
}

/**
 * pager shows "from-to of total" and previous/next buttons for server-side
 * paging; onGo(offset) loads another page.
 */
export function pager({ id, total, offset, limit, count, onGo }) {
  const from = total ? offset + 1 : 0;
  const to = offset + count;
  return h("nav", { class: "pager", id, "aria-label": t("core.pager") },
    h("button", { type: "button", class: "secondary", "data-go": "first", disabled: offset === 0, onclick: () => onGo(0) }, t("core.first")),
    h("button", { type: "button", class: "secondary", "data-go": "prev", disabled: offset === 0, onclick: () => onGo(Math.max(0, offset - limit)) }, t("core.previous")),
    h("span", { class: "muted", "aria-live": "polite" }, t("core.range", { from, to, total })),
    h("button", { type: "button", class: "secondary", "data-go": "next", disabled: to >= total, onclick: () => onGo(offset + limit) }, t("core.next")));
}

/**
 * searchBox is a search field that calls onSearch(text) as the user types
 * (debounced) and on Enter.
 */
export function searchBox({ id, value, label, placeholder, onSearch }) {
  // A stable id: the page is rebuilt as the user types, and the shell puts the
  // focus back on the element with the id that had it.
  const inputID = id ? id + "-q" : uid("search");
  const input = h("input", { type: "search", id: inputID, name: "q", value: value || "", placeholder, autocomplete: "off" });
  const go = debounce(() => onSearch(input.value.trim()), 250);
  input.addEventListener("input", go);
  const f = h("form", { role: "search", class: "search", id, method: "get", action: "#" },
    h("label", { for: inputID, class: "sr-only" }, label), input);
  f.addEventListener("submit", (ev) => { ev.preventDefault(); onSearch(input.value.trim()); });
  return f;
}

/**
 * columnChooser lets the user pick the visible columns; the choice is kept in
 * localStorage under key. onChange(ids) re-renders.
 */
export function columnChooser({ id, key, columns, onChange }) {
  const chosen = chosenColumns(key, columns);
  const box = h("details", { class: "chooser", id },
    h("summary", {}, t("core.columns")),
    h("div", { class: "chooser-list" }, columns.map((c) => {
      const cb = h("input", { type: "checkbox", value: c.id, checked: chosen.includes(c.id) });
      cb.addEventListener("change", () => {
        const ids = [...box.querySelectorAll("input:checked")].map((x) => x.value);
        if (!ids.length) { cb.checked = true; return; }
        localStorage.setItem(key, JSON.stringify(ids));
        onChange(ids);
      });
      return h("label", { class: "check" }, cb, h("span", {}, c.label));
    })));
  return box;
}

/** chosenColumns is the saved column choice (or every column not hidden by default). */
export function chosenColumns(key, columns) {
  try {
    const saved = JSON.parse(localStorage.getItem(key) || "null");
    if (Array.isArray(saved) && saved.length) return saved.filter((x) => columns.some((c) => c.id === x));
  } catch (e) { /* ignore a bad saved value */ }
  return columns.filter((c) => !c.hidden).map((c) => c.id);
}
