package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// memOpen collects outputs in memory.
type memFile struct {
	bytes.Buffer
}

func (m *memFile) Close() error { return nil }

// sinkSeeds are caller names and channel data as they come from the network.
var sinkSeeds = []string{"", "Niccolò", `"quoted", comma`, "a\x00b\x1fc", "<&>'\"", "\xff\xfe bad utf8", "=cmd|' /C calc'!A0", "line\r\nbreak", "\uFFFE\uFFFF"}

// FuzzJSONSink, FuzzXMLSink and FuzzCSVSink feed text from the network
// (caller names, channel names, user fields) into the text formats: JSON must
// stay valid, XML well formed, CSV parse back to the same cells, and nothing
// may panic.
func FuzzJSONSink(f *testing.F) { fuzzSink(f, JSON) }
func FuzzXMLSink(f *testing.F)  { fuzzSink(f, XML) }
func FuzzCSVSink(f *testing.F)  { fuzzSink(f, CSV) }

func fuzzSink(f *testing.F, format Format) {
	for _, s := range sinkSeeds {
		f.Add(s, int64(42))
	}
	tables := []*Table{{Sheet: "Calls", File: "calls", Element: "call", Columns: []Column{
		{Key: "a", Label: "A", kind: text}, {Key: "n", Label: "N", kind: integer}, {Key: "t", Label: "T", kind: datetime}}}}
	tables = append(tables, &Table{Sheet: "Legs", File: "legs", Element: "leg", Parent: tables[0],
		Columns: []Column{{Key: "b", Label: "B", kind: text}}})
	f.Fuzz(func(t *testing.T, s string, n int64) {
		files := map[string]*memFile{}
		sink, err := NewSink(format, tables, func(name string) (io.WriteCloser, error) {
			files[name] = &memFile{}
			return files[name], nil
		}, Options{Title: "x", Root: "x", Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Row(tables[0], []Value{s, n, time.Unix(n%(1<<40), 0)}); err != nil {
			t.Fatal(err)
		}
		if err := sink.Row(tables[1], []Value{s}); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		switch format {
		case JSON:
			b := files["x.json"].Bytes()
			var doc map[string][]map[string]any
			if err := json.Unmarshal(b, &doc); err != nil || len(doc["calls"]) != 1 {
				t.Fatalf("json %q: %v\n%s", s, err, b)
			}
		case XML:
			dec := xml.NewDecoder(bytes.NewReader(files["x.xml"].Bytes()))
			for {
				_, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("xml %q: %v\n%s", s, err, files["x.xml"].Bytes())
				}
			}
		case CSV:
			b := bytes.TrimPrefix(files["x-calls.csv"].Bytes(), []byte("\uFEFF"))
			recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil || len(recs) != 2 || len(recs[1]) != 3 {
				t.Fatalf("csv %q: %v %q", s, err, recs)
			}
			want, err := referenceCSV(tables[0], [][]Value{{s, n, time.Unix(n%(1<<40), 0)}}, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(files["x-calls.csv"].Bytes(), want) {
				t.Fatalf("csv %q: %q, encoding/csv writes %q", s, files["x-calls.csv"].Bytes(), want)
			}
			// encoding/csv reads a quoted \r\n back as \n.
			if got, want := recs[1][0], defuse(sanitize(s)); strings.ReplaceAll(got, "\r", "") != strings.ReplaceAll(want, "\r", "") {
				t.Fatalf("csv cell %q, want %q", got, want)
			}
		}
	})
}

// FuzzQueueLog builds queue calls from arbitrary queue-log rows (what the
// PBX's table or the AMI store hold): never a panic, and the wait and talk
// come from the rows.
func FuzzQueueLog(f *testing.F) {
	f.Add("ENTERQUEUE", "|0611|1", "CONNECT", "6|500.2|1", "PJSIP/201")
	f.Add("ENTERQUEUE", "", "ABANDON", "1|1|9", "NONE")
	f.Add("FULL", "x|y", "RINGNOANSWER", "-4500", "Local/201@from-queue/n")
	f.Fuzz(func(t *testing.T, e1, d1, e2, d2, agent string) {
		var rows []QueueLogRow
		for i, p := range [][2]string{{e1, d1}, {e2, d2}} {
			r := QueueLogRow{Time: time.Unix(1772438400+int64(i), 0), CallID: "1.1", Queue: "400", Agent: agent, Event: p[0]}
			copy(r.Data[:], strings.SplitN(p[1], "|", 5))
			rows = append(rows, r)
		}
		c, ok := BuildQueueCall(rows)
		if ok && c.Outcome == "" {
			t.Fatalf("a call without an outcome: %+v", c)
		}
		_ = AgentName(agent)
	})
}
