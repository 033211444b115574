// Telefoni sconosciuti: phones that asked for a file nobody configured; adopting
// one makes it a device, the model pre-chosen from what it asked for.
"use strict";

import { h, mono, time, tag, t, api, tbase, q, canWrite, table, register, flash, errorMessage, busy } from "../core/kit.js";
import { catalog, modelLabel, accountLabel } from "./shared/catalog.js";

register({
  id: "unknown", path: "unknown", group: "provisioning", order: 15, nav: "unknown.nav",
  render: async (ctx) => {
    const [unk, acc, cat] = await Promise.all([
      api("GET", tbase() + "/unknown-devices"),
      canWrite() ? api("GET", tbase() + "/accounts" + q({ limit: 1000 })) : Promise.resolve({ items: [] }),
      catalog()]);
    const accounts = acc.items || [];
    const box = h("div");
    const guessOf = (u) => {
      const g = u.models || [];
      if (!g.length) return "";
      if (g.length === 1 || g[0].score > g[1].score) return g[0].model;
      return null; // a tie
    };
    const adoptForm = (u) => {
      const g = u.models || [];
      const best = guessOf(u);
      const f = h("form", { class: "inline", "data-mac": u.mac, method: "post", action: "#" },
        h("select", { name: "model", "aria-label": t("unknown.model") },
          h("option", { value: "" }, best ? t("unknown.best_guess") : t("unknown.choose_model")),
          g.length ? h("optgroup", { label: t("unknown.guesses") },
            g.map((x) => h("option", { value: x.model, selected: x.model === best, "data-v": "" }, modelLabel(cat, x.model)))) : null,
          h("optgroup", { label: t("unknown.all_models") },
            cat.models.map((m) => h("option", { value: m.id, "data-v": "" }, modelLabel(cat, m.id))))),
        h("select", { name: "account_extension", "aria-label": t("unknown.account") },
          h("option", { value: "" }, t("unknown.no_account")),
          accounts.map((a) => h("option", { value: a.extension, "data-v": "" }, accountLabel(a)))),
        h("button", { type: "submit" }, t("unknown.adopt")));
      f.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const body = {};
        for (const el of f.elements) if (el.name && el.value) body[el.name] = el.value;
        await busy(f.querySelector("button"), async () => {
          try {
            const d = await api("POST", tbase() + "/unknown-devices/" + encodeURIComponent(u.mac) + "/adopt", body);
            flash("ok", d.file ? t("unknown.adopted", { mac: d.mac, model: modelLabel(cat, d.model), file: d.file })
              : t("unknown.adopted_no_file", { mac: d.mac, model: modelLabel(cat, d.model) }));
            ctx.reload();
          } catch (err) {
            box.replaceChildren(errorMessage(err, err.field === "model" ? t("unknown.model") : ""));
            const bad = f.querySelector(`[name="${err.field}"]`);
            if (bad) { bad.classList.add("bad"); bad.setAttribute("aria-invalid", "true"); bad.focus(); }
          }
        });
      });
      return f;
    };
    const list = table({
      id: "unknown",
      caption: t("unknown.nav"),
      columns: [
        { id: "mac", label: t("unknown.mac"), value: (u) => mono(u.mac) },
        { id: "ip", label: t("unknown.ip"), value: (u) => u.ip },
        { id: "file", label: t("unknown.file"), value: (u) => mono(u.file) },
        { id: "ua", label: t("unknown.user_agent"), value: (u) => u.user_agent || "" },
        { id: "seen", label: t("unknown.last_seen"), value: (u) => time(u.last_seen) },
        { id: "requests", label: t("unknown.requests"), value: (u) => u.requests },
        { id: "guess", label: t("unknown.guess"), value: (u) => {
          const best = guessOf(u);
          if (best === "") return tag(t("unknown.no_guess"), "");
          if (best === null) return tag(t("unknown.ambiguous", { n: u.models.length }), "warn");
          return h("span", { "data-v": "", "data-model": best }, modelLabel(cat, best));
        } },
        canWrite() ? { id: "adopt", label: t("unknown.adopt"), value: adoptForm } : null,
      ].filter(Boolean),
      rows: unk.items || [],
      attrs: (u) => ({ "data-mac": u.mac }),
      empty: t("unknown.empty"),
    });
    ctx.show(t("unknown.nav"), h("p", { class: "muted" }, t("unknown.intro")), box, list);
  },
});
