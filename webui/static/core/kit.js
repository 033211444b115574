// Everything a panel needs, from one import:
//   import { h, t, api, form, table, register } from "../core/kit.js";
"use strict";

export { h, v, mono, time, tag, uid, debounce, download } from "./dom.js";
export { t, plain, has, lang, fmtNumber, fmtTime, fmtBytes } from "./i18n.js";
export { S, api, APIError, tbase, canWrite, isAdmin, feature, tenantName, q, getFirst, devicePagePath, DEVICE_PAGE } from "./api.js";
export { message, flash, errorMessage, errorContent, confirmDialog, busy, section, kv } from "./ui.js";
export { form, optionNodes, choose } from "./forms.js";
export { table, pager, searchBox, columnChooser, chosenColumns } from "./list.js";
export { register, groups } from "./registry.js";
export { route, hashFor, chooseTenant, refreshTenants, logout } from "./shell.js";
