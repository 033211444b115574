// Gestore File: the files generated for the tenant's phones (read-only, searched
// and paged by the server) and the files uploaded for them (firmware, ring
// tones, logos), served as they are from the tenant's provisioning tree.
"use strict";

import {
  h, mono, time, tag, t, api, tbase, q, canWrite, fmtBytes, table, pager, searchBox, register, flash,
  confirmDialog, errorMessage, section, busy, download, S,
} from "../core/kit.js";
import { revealButton } from "./shared/reveal.js";

const PAGE = 100;

register({
  id: "files", path: "files", group: "provisioning", order: 80, nav: "files.nav",
  pages: async () => ["files/assets"],
  render: (ctx) => (ctx.path[0] === "assets" ? assetsPage(ctx) : generatedPage(ctx)),
});

function tabs(current) {
  return h("nav", { class: "toolbar tabs", "aria-label": t("files.tabs") },
    h("a", { href: "#/files", class: current === "generated" ? "button" : "button secondary", "aria-current": current === "generated" ? "page" : null, id: "tab-generated" }, t("files.generated")),
    h("a", { href: "#/files/assets", class: current === "assets" ? "button" : "button secondary", "aria-current": current === "assets" ? "page" : null, id: "tab-assets" }, t("files.assets")));
}

async function generatedPage(ctx) {
  const search = ctx.query.get("q") || "";
  const offset = Math.max(0, parseInt(ctx.query.get("offset") || "0", 10) || 0);
  const [res, pbx] = await Promise.all([api("GET", tbase() + "/files" + q({ q: search, limit: PAGE, offset })), api("GET", tbase() + "/pbx")]);
  const items = res.items || [];
  // Secret URLs only: the files with passwords are never served by name.
  const open_ = pbx.http_auth === "none" && !pbx.secure_urls;
  const view = h("div", { id: "file-view" });
  const open = async (f) => {
    try {
      const c = await api("GET", tbase() + "/files/" + encodeURIComponent(f.name));
      let content = c.content;
      const pre = h("pre", { "data-v": "", id: "file-content" }, content);
      // A file with secrets comes masked; "Show with passwords" asks for it
      // in clear (an audited reveal) for the roles that may.
      const secret = c.file && c.file.secret;
      const reveal = secret ? revealButton({ id: "file-reveal", path: "/files/" + encodeURIComponent(f.name) + "/reveal",
        label: t("reveal.file_show"), what: t("reveal.file", { name: f.name }),
        onValue: (res) => { content = res.content; pre.replaceChildren(content); masked.hidden = true; } }) : null;
      const masked = h("p", { class: "muted", id: "file-masked", hidden: !secret }, t("reveal.file_masked"));
      view.replaceChildren(section(null, h("div", { class: "toolbar" }, h("h2", {}, mono(f.name)), h("span", { class: "grow" }),
        reveal,
        h("button", { type: "button", class: "secondary", id: "file-download", onclick: () => download(f.name, content, f.content_type) }, t("core.download"))),
      masked, pre));
      view.scrollIntoView({ block: "nearest" });
    } catch (err) { view.replaceChildren(errorMessage(err)); }
  };
  const list = table({
    id: "files",
    caption: t("files.generated"),
    columns: [
      { id: "name", label: t("files.name"), value: (f) => mono(f.name) },
      { id: "size", label: t("files.size"), value: (f) => fmtBytes(f.size) },
      { id: "modified", label: t("files.modified"), value: (f) => time(f.modified) },
      { id: "device", label: t("files.device"), value: (f) => (f.mac ? mono(f.mac) : t("files.common")) },
      { id: "secret", label: t("files.content"), value: (f) => !f.secret ? ""
        : open_ ? tag(t("files.unprotected"), "bad", t("files.unprotected_help"))
          : pbx.secure_urls ? tag(t("files.secret_url"), "good", t("files.secret_url_help")) : tag(t("files.credentials"), "warn", t("files.credentials_help")) },
    ],
    rows: items,
    attrs: (f) => ({ "data-name": f.name }),
    onOpen: open,
    empty: search ? t("core.no_match") : t("files.empty"),
  });
  const url = S.status.tenancy_mode === "multi" ? `/provisioning/${S.tenant}/` : "/provisioning/";
  ctx.show(t("files.nav"), tabs("generated"),
    h("p", { class: "muted" }, t("files.generated_intro", { path: url })),
    h("div", { class: "toolbar" }, searchBox({ id: "file-search", value: search, label: t("files.search"), placeholder: t("files.search_hint"),
      onSearch: (text) => ctx.setQuery({ q: text }) })),
    list, pager({ id: "files-pager", total: res.total, offset, limit: PAGE, count: items.length, onGo: (off) => ctx.setQuery({ q: search, offset: off }) }),
    view);
  // #/files?q=NAME&open=NAME (the device page's "Show the file") opens it.
  const wanted = ctx.query.get("open");
  const hit = wanted && items.find((f) => f.name === wanted);
  if (hit) await open(hit);
}

async function assetsPage(ctx) {
  const res = await api("GET", tbase() + "/assets");
  const box = h("div");
  const list = table({
    id: "assets",
    caption: t("files.assets"),
    columns: [
      { id: "name", label: t("files.name"), value: (a) => mono(a.name) },
      { id: "size", label: t("files.size"), value: (a) => fmtBytes(a.size) },
      { id: "type", label: t("files.type"), value: (a) => a.content_type },
      { id: "modified", label: t("files.modified"), value: (a) => time(a.modified) },
      { id: "sha", label: t("files.sha256"), value: (a) => mono(a.sha256.slice(0, 16)) },
      canWrite() ? { id: "actions", label: t("core.actions"), cls: "actions", value: (a) => h("button", { type: "button", class: "danger", "data-delete": a.name, onclick: async () => {
        const ok = await confirmDialog({ title: t("files.delete_title"), danger: true, confirm: t("core.delete"),
          body: h("p", {}, t("files.delete_body", { name: a.name })) });
        if (!ok) return;
        try {
          await api("DELETE", tbase() + "/assets/" + encodeURIComponent(a.name));
          flash("ok", t("files.deleted", { name: a.name }));
          ctx.reload();
        } catch (err) { box.replaceChildren(errorMessage(err)); }
      } }, t("core.delete")) } : null,
    ].filter(Boolean),
    rows: res.items || [],
    attrs: (a) => ({ "data-name": a.name }),
    empty: t("files.assets_empty"),
  });
  let upload = null;
  if (canWrite()) {
    const fileInput = h("input", { type: "file", id: "asset-file", name: "file", required: true });
    const nameInput = h("input", { id: "asset-name", name: "name", placeholder: t("files.name_hint"), autocomplete: "off" });
    fileInput.addEventListener("change", () => { if (!nameInput.value && fileInput.files[0]) nameInput.value = fileInput.files[0].name; });
    const submit = h("button", { type: "submit" }, t("files.upload"));
    upload = h("form", { id: "asset-upload", class: "form inline panel", method: "post", action: "#" },
      h("div", { class: "field" }, h("label", { for: "asset-file" }, t("files.file")), fileInput),
      h("div", { class: "field" }, h("label", { for: "asset-name" }, t("files.name")), nameInput),
      h("div", { class: "buttons" }, submit));
    upload.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = fileInput.files[0];
      const name = nameInput.value.trim() || (file && file.name) || "";
      for (const el of upload.querySelectorAll(".bad")) { el.classList.remove("bad"); el.removeAttribute("aria-invalid"); }
      if (!file) {
        fileInput.classList.add("bad");
        fileInput.setAttribute("aria-invalid", "true");
        box.replaceChildren(errorMessage({ status: 400, local: true, message: "" }));
        fileInput.focus();
        return;
      }
      await busy(submit, async () => {
        try {
          await api("PUT", tbase() + "/assets/" + encodeURIComponent(name), file, { type: "application/octet-stream" });
          flash("ok", t("files.uploaded", { name }));
          ctx.reload();
        } catch (err) {
          box.replaceChildren(errorMessage(err, err.field === "name" ? t("files.name") : ""));
          const el = err.field === "name" ? nameInput : fileInput;
          el.classList.add("bad");
          el.setAttribute("aria-invalid", "true");
          el.focus();
        }
      });
    });
  }
  ctx.show(t("files.nav"), tabs("assets"), h("p", { class: "muted" }, t("files.assets_intro")), box, upload, list);
}
