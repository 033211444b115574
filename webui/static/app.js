// Switchboard web console: the entry point. See webui/doc.go for how the code is
// laid out and how to add a panel.
"use strict";

import { start } from "./core/shell.js";

start();
