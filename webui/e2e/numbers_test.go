package e2e

import (
	"testing"

	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestNumbersAsIntl: the console groups whole numbers itself (a fresh page's
// first Intl.NumberFormat loads ICU's number data, slower than building a
// list page); in each of its languages it must write them as Chromium's
// Intl.NumberFormat does, and leave the rest to it.
func TestNumbersAsIntl(t *testing.T) {
	env := webuitest.Shared(t)
	p, _ := env.Page(t, "it", "admin", "")
	p.Go("")
	bad, err := cdp.Run(p.Ctx(), cdp.Evaluate[string](`(async () => {
		const m = await import("/ui/core/i18n.js");
		const bad = [];
		const ns = [0, 1, 7, 12, 999, 1000, 1234, 9999, 10000, 12345, 99999, 100000, 123456, 999999, 1000000, 1234567,
			12345678, 123456789, 1234567890, Number.MAX_SAFE_INTEGER, -1, -999, -1000, -1234, -12345, -1234567];
		for (const l of ["it", "en"]) {
			const f = new Intl.NumberFormat(l);
			for (const n of ns) {
				if (m.groupDigits(n, l) !== f.format(n)) bad.push(l + " " + n + ": " + m.groupDigits(n, l) + ", Intl " + f.format(n));
			}
			for (const n of [1.5, -0, NaN, Infinity, 2 ** 60]) {
				if (m.groupDigits(n, l) !== null) bad.push(l + " " + n + " is not a safe integer: " + m.groupDigits(n, l));
			}
		}
		if (m.groupDigits(1234, "de") !== null) bad.push("de is not a console language");
		return bad.join("; ");
	})()`, cdp.EvalAwaitPromise))
	if err != nil || bad != "" {
		t.Errorf("whole numbers unlike Intl.NumberFormat: %s (%v)", bad, err)
	}
}
