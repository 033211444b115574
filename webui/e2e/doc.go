// Package e2e holds the web console's browser tests: every panel driven in
// Debian's chromium (headless, through chromedp) against the real daemon, one
// daemon and browser shared by the package (webuitest.Shared), each test in
// its own tenant. A panel's test creates, edits and deletes through its page,
// triggers a validation error and checks the audit row; TestItalianEverywhere
// walks every page in Italian and fails on any text not from the catalog. Set
// SWITCHBOARD_SCREENSHOTS=DIR to keep a screenshot of every page.
package e2e
