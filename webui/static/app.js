// Switchboard web console: the entry point. See webui/doc.go for how the code is
// laid out and how to add a panel. The server bundles this file and all it
// imports into /ui/console.js, the one script the page loads; catalog.js
// (the merged message catalog) and panels.js (an import of every panel) are
// written by the server.
"use strict";

import { start } from "./core/shell.js";
import { messages, languages } from "./catalog.js";
import "./panels.js";

start(messages, languages);
