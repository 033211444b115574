package asterisktest

import (
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
)

func TestMain(m *testing.M) {
	code := Main(m)
	mariadbtest.Cleanup()
	os.Exit(code)
}

const wait = 10 * time.Second

// logEvents writes the events of the named types touching one of the
// channels (or with one of the linkedids), for the facts in doc.go.
func logEvents(t *testing.T, a *AMI, keys []string, names ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var b strings.Builder
	for _, m := range a.Events() {
		if len(names) > 0 && !want[m.Get("Event")] {
			continue
		}
		hit := false
		for _, k := range keys {
			for _, f := range []string{"Channel", "DestChannel", "TransfererChannel", "TransfereeChannel", "TransferTargetChannel", "ParkeeChannel", "ParkerChannel", "RetrieverChannel", "Linkedid", "LinkedID", "OrigTransfererChannel", "SecondTransfererChannel", "DestinationChannel", "Interface", "Uniqueid", "UniqueID"} {
				if v := m.Get(f); v != "" && strings.HasPrefix(v, k) {
					hit = true
				}
			}
		}
		if !hit {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "Event" && k != "Privilege" && k != "Timestamp" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		b.WriteString(m.Get("Event") + ":")
		for _, k := range keys {
			b.WriteString(" " + k + "=" + m[k])
		}
		b.WriteString("\n")
	}
	t.Logf("events:\n%s", b.String())
}

func cdrsOf(a *AMI, linkedid string) []Msg {
	return a.Filter(Match("Event", "Cdr", "LinkedID", linkedid))
}
