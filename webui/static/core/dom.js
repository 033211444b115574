// DOM building. Everything is created as elements and text nodes: no string is
// ever parsed as HTML, so data from the API cannot become markup or script.
"use strict";

import { fmtTime } from "./i18n.js";

/**
 * h creates an element. attrs: "class", "value", "checked", "on<event>"
 * handlers, booleans (true = present, false/null/undefined = absent), others as
 * attributes. Children: nodes, strings (as text) and arrays of them.
 */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const c of kids.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * v shows a value that comes from the API (a name, a MAC, a note): user data,
 * not console text, so it is marked data-v and isolated for bidirectional text.
 */
export function v(x, cls) {
  return h("bdi", { "data-v": "", class: cls }, x === undefined || x === null ? "" : String(x));
}

/** mono is v in a fixed-width font (MACs, file names, UUIDs). */
export function mono(x) { return v(x, "mono"); }

/** time shows an API time in the user's locale. */
export function time(s) {
  return h("time", { "data-v": "", datetime: s || "" }, s ? fmtTime(s) : "");
}

/** tag is a small coloured label (kind: good, bad, warn or ""). */
export function tag(text, kind, title) {
  return h("span", { class: "tag " + (kind || ""), title }, text);
}

/** uid returns a fresh id for label/aria wiring. */
let seq = 0;
export function uid(prefix) { return `${prefix || "sb"}-${++seq}`; }

/** debounce delays f until calls stop for ms. */
export function debounce(f, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => f(...args), ms);
  };
}

/** download saves text as a file through a temporary object URL. */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type: type || "text/plain" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
