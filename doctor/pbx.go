package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// pbxFacts is what one AMI session learns for the three PBX checks.
type pbxFacts struct {
	err        error
	version    string
	transports map[string][]string // type (tls, tcp, udp, ws, wss) -> ids
	transErr   error
	skew       time.Duration
	clockErr   error
}

type pbxOnce struct {
	mu    sync.Mutex
	facts *pbxFacts
}

func (e *checker) pbx(ctx context.Context) *pbxFacts {
	e.pbxMu.mu.Lock()
	defer e.pbxMu.mu.Unlock()
	if e.pbxMu.facts == nil {
		e.pbxMu.facts = askPBX(ctx, *e.AMI, e.Now)
	}
	return e.pbxMu.facts
}

func askPBX(ctx context.Context, cfg ami.Config, now func() time.Time) *pbxFacts {
	f := &pbxFacts{}
	conn, err := ami.Dial(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.err = err
		return f
	}
	defer conn.Close()
	f.version = conn.Version
	defer conn.Action(ctx, ami.NewMessage("Action", "Logoff")) //nolint:errcheck // closing anyway

	// The PBX's clock: Ping answers Asterisk's time of day. Half the round trip
	// is taken off, as NTP does.
	sent := now()
	resp, err := conn.Action(ctx, ami.NewMessage("Action", "Ping"))
	got := now()
	if err != nil {
		f.clockErr = err
	} else if ts, perr := strconv.ParseFloat(resp.Get("Timestamp"), 64); perr != nil || ts <= 0 {
		f.clockErr = fmt.Errorf("the AMI Ping answered no Timestamp (%q)", resp.Get("Timestamp"))
	} else {
		sec, frac := math.Modf(ts)
		pbx := time.Unix(int64(sec), int64(frac*1e9))
		mid := sent.Add(got.Sub(sent) / 2)
		f.skew = pbx.Sub(mid)
	}

	resp, err = conn.Action(ctx, ami.NewMessage("Action", "Command", "Command", "pjsip show transports"))
	if err != nil {
		f.transErr = err
		return f
	}
	if !strings.EqualFold(resp.Get("Response"), "Success") {
		f.transErr = fmt.Errorf("%s %s", resp.Get("Message"), strings.Join(resp.All("Output"), " "))
		return f
	}
	f.transports = parseTransports(resp.All("Output"))
	return f
}

// parseTransports reads "pjsip show transports":
//
//	Transport:  transport-tls  tls  0  0  0.0.0.0:5061
//
// Output may come as one field with embedded new lines (older Asterisk) or
// one field per line.
func parseTransports(out []string) map[string][]string {
	m := map[string][]string{}
	for _, chunk := range out {
		for _, line := range strings.Split(chunk, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "Transport:" && !strings.HasPrefix(f[1], "<") {
				typ := strings.ToLower(f[2])
				m[typ] = append(m[typ], f[1]+" "+f[len(f)-1])
			}
		}
	}
	return m
}

func (e *checker) pbxAMI(ctx context.Context) Result {
	if e.AMI == nil {
		return skip("the CTI is off (cti.enabled): no AMI to check")
	}
	f := e.pbx(ctx)
	if f.err != nil {
		return fail("check cti.ami.address, cti.ami.username and cti.ami.secret against manager.conf on the PBX, and that Asterisk runs",
			"AMI at %s: %v", e.AMI.Address, f.err)
	}
	return ok("logged in to AMI at %s (AMI version %s)", e.AMI.Address, f.version)
}

func (e *checker) pbxTransports(ctx context.Context) Result {
	if e.AMI == nil {
		return skip("the CTI is off (cti.enabled)")
	}
	f := e.pbx(ctx)
	if f.err != nil {
		return fail("see pbx.ami", "no AMI session")
	}
	if f.transErr != nil {
		return fail("give the AMI user the 'command' write permission in manager.conf", "cannot list the SIP transports: %v", f.transErr)
	}
	var missing []string
	for _, t := range []string{"tls", "tcp"} {
		if len(f.transports[t]) == 0 {
			missing = append(missing, strings.ToUpper(t))
		}
	}
	if len(missing) > 0 {
		return fail("add a PJSIP transport of type "+strings.ToLower(strings.Join(missing, " and "))+" (pjsip.conf) and reload: the mobile app registers over TLS, desk phones behind NAT over TCP",
			"the PBX has no SIP %s transport (it has: %s)", strings.Join(missing, " or "), transportList(f.transports))
	}
	return ok("SIP transports: %s", transportList(f.transports))
}

func transportList(m map[string][]string) string {
	var parts []string
	for _, t := range []string{"tls", "tcp", "udp", "wss", "ws"} {
		for _, id := range m[t] {
			parts = append(parts, t+" "+id)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (e *checker) pbxClock(ctx context.Context) Result {
	if e.AMI == nil {
		return skip("the CTI is off (cti.enabled)")
	}
	f := e.pbx(ctx)
	if f.err != nil {
		return fail("see pbx.ami", "no AMI session")
	}
	if f.clockErr != nil {
		return warn("check the AMI user's permissions", "cannot read the PBX's clock: %v", f.clockErr)
	}
	skew := f.skew
	if skew < 0 {
		skew = -skew
	}
	if skew > e.Config.MaxClockSkew {
		return fail("run NTP (systemd-timesyncd or chrony) on both machines against the same servers",
			"the PBX's clock is %s %s this box's: call times, CDRs and certificates disagree", skew.Round(time.Millisecond), aheadBehind(f.skew))
	}
	return ok("clocks agree within %s", skew.Round(time.Millisecond))
}

func aheadBehind(d time.Duration) string {
	if d > 0 {
		return "ahead of"
	}
	return "behind"
}
