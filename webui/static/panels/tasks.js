// Attività pianificate: scheduled CDR and call-center CDR exports mailed on a
// schedule or by hand (the play button), each task's run history, and the
// SMTP settings with "send a test mail". The form has exactly the task's
// fields; weekday, day of month and the call-center fields show and hide as
// the schedule and the type change, and the API's refusals land on the field.
"use strict";

import {
  h, v, mono, time, tag, t, api, S, isAdmin, form, table, register, flash, confirmDialog, message, section, busy, kv,
  fmtBytes,
} from "../core/kit.js";

const SCHEDULES = ["daily", "weekly", "monthly"];
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const INTERVALS = ["current_day", "previous_day", "current_week", "previous_week", "current_month", "previous_month"];
const FORMATS = ["xlsx", "xlsx_detailed", "csv", "csv_detailed", "json", "xml"];

register({
  id: "tasks", path: "tasks", group: "system", order: 40, nav: "tasks.nav",
  visible: () => !!S.me && S.me.role !== "tenant_admin",
  pages: async () => {
    const r = await api("GET", "/tasks");
    return ["tasks/new", "tasks/mail", ...(r.items || []).slice(0, 1).map((x) => "tasks/" + x.id)];
  },
  render: (ctx) => {
    if (!ctx.path.length) return listPage(ctx);
    if (ctx.path[0] === "mail") return mailPage(ctx);
    return editPage(ctx, ctx.path[0]);
  },
});

function scheduleText(x) {
  switch (x.schedule) {
    case "weekly": return t("tasks.every.weekly", { day: t("tasks.weekday." + x.weekday), time: x.time });
    case "monthly": return t("tasks.every.monthly", { day: x.day_of_month, time: x.time });
  }
  return t("tasks.every.daily", { time: x.time });
}

function statusTag(r) {
  if (!r) return "";
  const kind = { ok: "good", failed: "bad", interrupted: "bad", running: "warn" }[r.status] || "";
  return tag(t("tasks.status." + r.status), kind, r.error || undefined);
}

async function listPage(ctx) {
  const [res, mail] = await Promise.all([api("GET", "/tasks"), api("GET", "/mail")]);
  const box = h("div", { id: "tasks-msg" });
  const play = (x) => isAdmin() ? h("button", {
    type: "button", class: "secondary icon", "data-run": x.id, title: t("tasks.run_now"), "aria-label": t("tasks.run_now_named", { name: x.name }),
    onclick: (ev) => busy(ev.currentTarget, async () => {
      try {
        await api("POST", "/tasks/" + encodeURIComponent(x.id) + "/run");
        box.replaceChildren(message("ok", t("tasks.started", { name: x.name })));
      } catch (err) { box.replaceChildren(message("error", h("strong", {}, t("tasks.run_failed")), h("span", { class: "detail" }, v(err.message)))); }
    }),
  }, t("tasks.play")) : null;
  const list = table({
    id: "tasks",
    caption: t("tasks.nav"),
    columns: [
      { id: "name", label: t("tasks.name"), value: (x) => x.name },
      { id: "type", label: t("tasks.type"), value: (x) => t("tasks.type." + x.type) },
      { id: "enabled", label: t("tasks.enabled"), value: (x) => (x.enabled ? tag(t("tasks.on"), "good") : tag(t("tasks.off"), "")) },
      { id: "schedule", label: t("tasks.schedule"), value: (x) => scheduleText(x) },
      { id: "last", label: t("tasks.last_run"), value: (x) => (x.last_run ? h("span", {}, time(x.last_run.start), " ", statusTag(x.last_run)) : "") },
      { id: "next", label: t("tasks.next_run"), value: (x) => time(x.next_run) },
      { id: "run", label: t("tasks.run"), value: (x) => play(x) },
    ],
    rows: res.items || [],
    attrs: (x) => ({ "data-id": x.id, "data-name": x.name }),
    onOpen: (x) => ctx.go(["tasks", x.id]),
    empty: t("tasks.empty"),
  });
  ctx.show(t("tasks.nav"),
    mail.configured ? null : message("warn", t("tasks.no_mail")),
    box,
    h("div", { class: "toolbar" },
      h("a", { href: "#/tasks/mail", class: "button secondary", id: "tasks-mail", role: "button" }, t("tasks.mail.nav")),
      h("span", { class: "grow" }),
      isAdmin() ? h("a", { href: "#/tasks/new", class: "button", id: "add-task", role: "button" }, t("tasks.add")) : null),
    list);
}

// recipients: a textarea of addresses, one per line (commas too).
const recipientsField = (label) => ({
  name: "recipients", label, type: "textarea", wide: true, help: t("tasks.recipients_help"),
  attrs: { rows: 3, spellcheck: "false", autocomplete: "off" },
  get: (el) => el.value.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean),
  set: (el, val) => { el.value = (val || []).join("\n"); },
});

async function editPage(ctx, id) {
  const isNew = id === "new";
  const [x, runs] = await Promise.all([
    isNew ? Promise.resolve({ type: "cdr", enabled: true, schedule: "daily", time: "06:00", weekday: "monday", day_of_month: 1,
      interval: "previous_day", format: "xlsx", compress_over_mb: 10, recipients: [] }) : api("GET", "/tasks/" + encodeURIComponent(id)),
    isNew ? Promise.resolve({ items: [] }) : api("GET", "/tasks/" + encodeURIComponent(id) + "/runs?limit=50")]);
  const ro = !isAdmin();
  const box = h("div", { id: "task-msg" });
  const cc = (vals) => vals.type === "callcenter";
  const f = form({
    id: "task-form",
    readOnly: ro,
    values: Object.assign({}, x, { weekday: x.weekday || "monday", day_of_month: x.day_of_month || 1 }),
    fields: [
      { section: t("tasks.sec.general") },
      isNew ? { name: "type", label: t("tasks.type"), type: "select", required: true,
        options: ["cdr", "callcenter"].map((y) => ({ value: y, label: t("tasks.type." + y) })) } : null,
      { name: "name", label: t("tasks.name"), required: true, attrs: { maxlength: 100 }, help: t("tasks.name_help") },
      { name: "enabled", label: t("tasks.enabled"), type: "checkbox", help: t("tasks.enabled_help") },
      { name: "schedule", label: t("tasks.schedule"), type: "select", options: SCHEDULES.map((y) => ({ value: y, label: t("tasks.schedule." + y) })) },
      { name: "time", label: t("tasks.time"), type: "time", required: true, help: t("tasks.time_help", { zone: x.time_zone || "" }) },
      { name: "weekday", label: t("tasks.weekday"), type: "select", show: (vals) => vals.schedule === "weekly",
        options: WEEKDAYS.map((y) => ({ value: y, label: t("tasks.weekday." + y) })) },
      { name: "day_of_month", label: t("tasks.day_of_month"), type: "number", show: (vals) => vals.schedule === "monthly",
        attrs: { min: 1, max: 31 }, help: t("tasks.day_of_month_help"),
        validate: (val) => (val < 1 || val > 31 ? t("tasks.err.day_of_month") : "") },
      { section: isNew ? t("tasks.sec.export") : t("tasks.sec.export_of", { type: t("tasks.type." + x.type) }) },
      { name: "interval", label: t("tasks.interval"), type: "select", options: INTERVALS.map((y) => ({ value: y, label: t("tasks.interval." + y) })) },
      { name: "format", label: t("tasks.format"), type: "select", options: FORMATS.map((y) => ({ value: y, label: t("tasks.format." + y) })) },
      { name: "compress_over_mb", label: t("tasks.compress_over_mb"), type: "number", attrs: { min: 0, max: 1000 }, help: t("tasks.compress_help") },
      { name: "operator_events", label: t("tasks.operator_events"), type: "checkbox", help: t("tasks.operator_events_help"),
        show: (vals) => cc(isNew ? vals : x) },
      { name: "notify_supervisors", label: t("tasks.notify_supervisors"), type: "checkbox", help: t("tasks.notify_supervisors_help"),
        show: (vals) => cc(isNew ? vals : x) },
      recipientsField(t("tasks.recipients")),
    ],
    buttons: [
      !isNew && !ro ? h("button", { type: "button", class: "secondary", id: "task-run", onclick: (ev) => busy(ev.currentTarget, async () => {
        try {
          await api("POST", "/tasks/" + encodeURIComponent(id) + "/run");
          flash("ok", t("tasks.started", { name: x.name }));
          ctx.reload();
        } catch (err) { f.showError(err); }
      }) }, t("tasks.run_now")) : null,
      !isNew && !ro ? h("button", { type: "button", class: "danger", id: "task-delete", onclick: () => doDelete() }, t("tasks.delete")) : null,
      h("a", { href: "#/tasks", class: "back" }, t("tasks.back")),
    ],
    onSubmit: async (vals) => {
      const body = Object.assign({}, vals);
      if (body.schedule !== "weekly") delete body.weekday;
      if (body.schedule !== "monthly") delete body.day_of_month;
      if (!cc(isNew ? body : x)) { delete body.operator_events; delete body.notify_supervisors; }
      if (!isNew) delete body.type;
      const saved = await api(isNew ? "POST" : "PATCH", "/tasks" + (isNew ? "" : "/" + encodeURIComponent(id)), body);
      flash("ok", t("tasks.saved", { name: saved.name }));
      ctx.go(["tasks"], {});
    },
  });
  const doDelete = async () => {
    const ok = await confirmDialog({ title: t("tasks.delete_title"), danger: true, confirm: t("tasks.delete"),
      body: h("p", {}, t("tasks.delete_body", { name: x.name })) });
    if (!ok) return;
    try {
      await api("DELETE", "/tasks/" + encodeURIComponent(id));
      flash("ok", t("tasks.deleted", { name: x.name }));
      ctx.go(["tasks"], {});
    } catch (err) { f.showError(err); }
  };
  const history = isNew ? null : section(t("tasks.history"), table({
    id: "task-runs",
    caption: t("tasks.history"),
    columns: [
      { id: "start", label: t("tasks.run.start"), value: (r) => time(r.start) },
      { id: "end", label: t("tasks.run.end"), value: (r) => time(r.end) },
      { id: "trigger", label: t("tasks.run.trigger"), value: (r) => t("tasks.trigger." + r.trigger.replace("-", "_")) },
      { id: "status", label: t("tasks.run.status"), value: (r) => statusTag(r) },
      { id: "rows", label: t("tasks.run.rows"), value: (r) => r.rows },
      { id: "file", label: t("tasks.run.file"), value: (r) => (r.file ? h("span", {}, mono(r.file), " ", v(fmtBytes(r.file_size))) : "") },
      { id: "recipients", label: t("tasks.run.recipients"), value: (r) => (r.recipients || []).join(", ") },
      { id: "error", label: t("tasks.run.error"), value: (r) => r.error || "" },
    ],
    rows: runs.items || [],
    attrs: (r) => ({ "data-run": r.id, "data-status": r.status }),
    empty: t("tasks.no_runs"),
  }));
  const state = isNew ? null : section(null, kv([
    [t("tasks.next_run"), x.next_run ? time(x.next_run) : t("tasks.no_next")],
    [t("tasks.time_zone"), x.time_zone],
  ], "task-state"));
  ctx.show(isNew ? t("tasks.new_title") : t("tasks.edit_title", { name: x.name }),
    ro ? message("info", t("tasks.read_only")) : null, box, state, f.el, history);
}

async function mailPage(ctx) {
  const m = await api("GET", "/mail");
  const ro = !isAdmin();
  const testBox = h("div", { id: "mail-test-msg" });
  const f = form({
    id: "mail-form",
    readOnly: ro,
    values: Object.assign({ security: "starttls", port: 587 }, m, { password: "" }),
    fields: [
      { name: "host", label: t("tasks.mail.host"), required: true },
      { name: "security", label: t("tasks.mail.security"), type: "select",
        options: ["starttls", "tls", "none"].map((y) => ({ value: y, label: t("tasks.mail.security." + y) })) },
      { name: "port", label: t("tasks.mail.port"), type: "number", attrs: { min: 1, max: 65535 } },
      { name: "username", label: t("tasks.mail.username"), attrs: { autocomplete: "off" }, help: t("tasks.mail.username_help"),
        show: (vals) => vals.security !== "none" },
      { name: "password", label: t("tasks.mail.password"), type: "password", omitEmpty: true, attrs: { autocomplete: "new-password" },
        help: m.password_set ? t("tasks.mail.password_kept") : t("tasks.mail.password_help"), show: (vals) => vals.security !== "none" },
      { name: "from", label: t("tasks.mail.from"), type: "text", required: true, help: t("tasks.mail.from_help") },
    ],
    onChange: (vals, form, name) => {
      if (name === "security") form.set("port", { starttls: 587, tls: 465, none: 25 }[vals.security]);
    },
    onSubmit: async (vals) => {
      const body = Object.assign({}, vals);
      if (body.security === "none") { body.username = ""; }
      await api("PUT", "/mail", body);
      flash("ok", t("tasks.mail.saved"));
      ctx.reload();
    },
  });
  const test = form({
    id: "mail-test", inline: true, readOnly: ro, submit: t("tasks.mail.send_test"),
    fields: [{ name: "to", label: t("tasks.mail.test_to"), type: "email", required: true }],
    onSubmit: async (vals) => {
      const r = await api("POST", "/mail/test", vals);
      testBox.replaceChildren(r.ok ? message("ok", t("tasks.mail.test_ok", { to: vals.to }))
        : message("error", h("strong", {}, t("tasks.mail.test_failed")), h("span", { class: "detail" }, v(r.error))));
    },
  });
  ctx.show(t("tasks.mail.title"),
    h("a", { href: "#/tasks", class: "back" }, t("tasks.back")),
    ro ? message("info", t("tasks.read_only")) : null,
    f.el,
    section(t("tasks.mail.test_title"), testBox, test.el));
}
