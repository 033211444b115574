package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// Status is a check's verdict.
type Status string

// Verdicts, from best to worst. Skip is a check that does not apply here (a
// feature off, a key not set); it never fails the report.
const (
	OK   Status = "OK"
	Skip Status = "SKIP"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

func (s Status) rank() int {
	switch s {
	case Warn:
		return 2
	case Fail:
		return 3
	case OK:
		return 1
	}
	return 0
}

// Result is what one check found.
type Result struct {
	// ID names the check ("tls.chain"); stable, for scripts.
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do, in words; empty when OK.
	Fix string `json:"fix,omitempty"`
	// Millis is how long the check took.
	Millis int64 `json:"ms"`
}

// Check is one diagnosis. Run gets a context bounded by the check timeout.
type Check struct {
	ID  string
	Run func(ctx context.Context) Result
}

// Report is every check's result, in the order the checks were added.
type Report struct {
	Status Status    `json:"status"`
	Time   time.Time `json:"time"`
	Checks []Result  `json:"checks"`
}

// Doctor holds the checks and serves them.
type Doctor struct {
	component.Base
	timeout time.Duration
	mu      sync.Mutex
	checks  []Check
}

var _ component.Component = (*Doctor)(nil)

// New makes a doctor whose checks each get at most timeout.
func New(timeout time.Duration, checks ...Check) *Doctor {
	return &Doctor{timeout: timeout, checks: checks}
}

// Add appends checks (a service's own: SMTP, ...).
func (d *Doctor) Add(checks ...Check) {
	d.mu.Lock()
	d.checks = append(d.checks, checks...)
	d.mu.Unlock()
}

// Name is the component's name.
func (d *Doctor) Name() string { return "doctor" }

// Serve has nothing to run: checks run when asked.
func (d *Doctor) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

// Routes mounts GET /api/v1/diagnostics.
func (d *Doctor) Routes(r component.Router) {
	r.Admin("GET /api/v1/diagnostics", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		if !p.IsAdmin() && p.Role != httpapi.RoleAuditor {
			return httpapi.ErrAdminOnly
		}
		httpapi.WriteJSON(w, http.StatusOK, d.Run(r.Context()))
		return nil
	})
}

// Run runs every check at once, each bounded by the timeout, and reports them
// in order. A check that panics or overruns is a FAIL of its own.
func (d *Doctor) Run(ctx context.Context) Report {
	d.mu.Lock()
	checks := append([]Check(nil), d.checks...)
	d.mu.Unlock()
	out := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = runOne(ctx, c, d.timeout)
		}()
	}
	wg.Wait()
	rep := Report{Status: OK, Time: time.Now().UTC(), Checks: out}
	for _, r := range out {
		if r.Status.rank() > rep.Status.rank() {
			rep.Status = r.Status
		}
	}
	return rep
}

func runOne(ctx context.Context, c Check, timeout time.Duration) (res Result) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- Result{Status: Fail, Detail: fmt.Sprintf("the check crashed: %v", v), Fix: "report this as a bug"}
			}
		}()
		done <- c.Run(cctx)
	}()
	select {
	case res = <-done:
	case <-cctx.Done():
		res = Result{Status: Fail, Detail: fmt.Sprintf("no answer within %s", timeout),
			Fix: "something on the way does not answer: see the other checks"}
	}
	res.ID = c.ID
	res.Millis = time.Since(start).Milliseconds()
	return res
}

// Write prints one line per check: verdict, id, what was found and the fix.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		line := c.Detail
		if c.Fix != "" && c.Status != OK {
			line += "; fix: " + c.Fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.ID, strings.ReplaceAll(line, "\n", " "))
	}
	fmt.Fprintf(tw, "\nresult: %s (%s)\n", r.Status, r.counts())
	return tw.Flush()
}

func (r Report) counts() string {
	n := map[Status]int{}
	for _, c := range r.Checks {
		n[c.Status]++
	}
	var parts []string
	for _, s := range []Status{OK, Warn, Fail, Skip} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

func ok(format string, a ...any) Result { return Result{Status: OK, Detail: fmt.Sprintf(format, a...)} }

func skip(format string, a ...any) Result {
	return Result{Status: Skip, Detail: fmt.Sprintf(format, a...)}
}

func warn(fix, format string, a ...any) Result {
	return Result{Status: Warn, Detail: fmt.Sprintf(format, a...), Fix: fix}
}

func fail(fix, format string, a ...any) Result {
	return Result{Status: Fail, Detail: fmt.Sprintf(format, a...), Fix: fix}
}
