// Package webui is the web admin console served at / on the HTTPS listener.
//
// It is a small single-page application (plain JavaScript, no build step, no
// third-party code) embedded in the binary. It holds no logic of its own: every
// read and write goes through the admin REST API under /api/v1 with the same
// bearer tokens, roles, validation and audit rows as the CLI, so the console can
// never do what the API would refuse. Pages insert data as text, never as HTML,
// and a strict Content-Security-Policy forbids inline and foreign scripts.
package webui
