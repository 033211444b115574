package cti

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/internal/needs"
)

// nodeClient runs the npm socket.io-client (cti/testdata, installed by npm ci in
// .ci/run) and returns its events line by line.
type nodeClient struct {
	t      *testing.T
	events chan map[string]json.RawMessage
	stdin  io.Writer
}

func startNode(t *testing.T, url, user, token string) *nodeClient {
	return startNodeMode(t, url, user, token, "websocket")
}

// startNodeMode starts the client with transports ['websocket'] ("websocket")
// or its default transports ("default": polling, then the upgrade).
func startNodeMode(t *testing.T, url, user, token, mode string) *nodeClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		needs.Missing(t, "node is not installed (.ci/run installs it with npm)")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "socket.io-client")); err != nil {
		needs.Missing(t, "socket.io-client missing: run 'npm ci' in cti/testdata (.ci/run does)")
	}
	cmd := exec.Command(node, "testdata/client.js", url, user, token, mode)
	stdout, _ := cmd.StdoutPipe()
	stdin, _ := cmd.StdinPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	nc := &nodeClient{t: t, events: make(chan map[string]json.RawMessage, 256), stdin: stdin}
	go func() {
		defer close(nc.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				nc.events <- m
			}
		}
	}()
	return nc
}

// waitMsg waits for an event line and returns all of it.
func (nc *nodeClient) waitMsg(name string) map[string]json.RawMessage {
	nc.t.Helper()
	deadline := time.After(15 * time.Second)
	var seen []string
	for {
		select {
		case m, open := <-nc.events:
			if !open {
				nc.t.Fatalf("node client exited waiting for %s (seen %v)", name, seen)
			}
			var ev string
			json.Unmarshal(m["event"], &ev)
			seen = append(seen, ev)
			if ev == name {
				return m
			}
		case <-deadline:
			nc.t.Fatalf("node client: no %s within 15 s (seen %v)", name, seen)
		}
	}
}

func (nc *nodeClient) wait(name string, ok func(json.RawMessage) bool) json.RawMessage {
	nc.t.Helper()
	deadline := time.After(15 * time.Second)
	var seen []string
	for {
		select {
		case m, open := <-nc.events:
			if !open {
				nc.t.Fatalf("node client exited waiting for %s (seen %v)", name, seen)
			}
			var ev string
			json.Unmarshal(m["event"], &ev)
			seen = append(seen, ev)
			if ev == name && (ok == nil || ok(m["data"])) {
				return m["data"]
			}
		case <-deadline:
			nc.t.Fatalf("node client: no %s within 15 s (seen %v)", name, seen)
		}
	}
}

func TestNodeSocketIOClient(t *testing.T) {
	e := newEnv(t, nil)
	bad := startNode(t, e.srv.URL, "bob", "0000000000000000000000000000000000000000")
	bad.wait("401", nil)
	bad.wait("disconnect", nil)

	nc := startNode(t, e.srv.URL, "alice", e.login("alice", "alice-password"))
	nc.wait("authe_ok", nil)
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	b := sc.NewChan("202", "202", "Bob", a)
	id := a.Name + ">" + b.Name
	emitAll(e.ami, one(sc.Newchannel(a)), sc.Dial(a, b, "PJSIP/202"))
	hasConv := func(connected bool) func(json.RawMessage) bool {
		return func(d json.RawMessage) bool {
			var x extEv
			json.Unmarshal(d, &x)
			c := x.Conversations[id]
			return x.Exten == "201" && c != nil && c.Connected == connected && c.Direction == "out" && c.CounterpartNum == "202"
		}
	}
	nc.wait("extenUpdate", hasConv(false))
	emitAll(e.ami, sc.Answer(a, b, "bn"), one(Enter(a, "bn", "basic", 1), Enter(b, "bn", "basic", 2)))
	nc.wait("extenConnected", func(d json.RawMessage) bool { return string(d) == `{"extenConnected":"201"}` })
	nc.wait("extenUpdate", hasConv(true))
	e.ami.EmitAll(Hangup(b, 16, "Normal Clearing"), Hangup(a, 16, "Normal Clearing"))
	h := nc.wait("extenHangup", nil)
	var hm map[string]string
	if json.Unmarshal(h, &hm) != nil || hm["cause"] != "normal_clearing" || hm["calledNum"] != "202" {
		t.Fatalf("extenHangup: %s", h)
	}
	// Queue, parking and trunk rooms reach the operator too.
	tr := sc.NewChan("provider1", "0611", "", nil)
	e.ami.EmitAll(sc.Newchannel(tr), append(ev2("QueueCallerJoin", tr), [2]string{"Queue", "401"}, [2]string{"Position", "1"}))
	nc.wait("queueUpdate", nil)
	nc.wait("trunkUpdate", nil)
	e.ami.Emit(M("Event", "ParkedCall", "ParkeeChannel", tr.Name, "ParkeeCallerIDNum", "0611", "ParkingLot", "default", "ParkingSpace", "72", "ParkingTimeout", "45"))
	p := nc.wait("parkingUpdate", nil)
	var pk model.Parking
	if json.Unmarshal(p, &pk) != nil || pk.Parking != "72" || pk.ParkedCaller == nil || pk.ParkedCaller.Num != "0611" {
		t.Fatalf("parkingUpdate: %s", p)
	}
	// A second login of alice takes the node client over.
	e.socket("alice")
	nc.wait("takeOver", nil)
	nc.wait("disconnect", nil)
}

// socket.io-client with its default transports (long polling first, then the
// upgrade to websocket) and with transports ['websocket']: both log in, get
// their pings acknowledged and receive events, before and after the upgrade.
func TestNodeTransports(t *testing.T) {
	e := newEnv(t, nil)
	for _, mode := range []string{"default", "websocket", "polling"} {
		t.Run(mode, func(t *testing.T) {
			nc := startNodeMode(t, e.srv.URL, "alice", e.login("alice", "alice-password"), mode)
			open := nc.waitMsg("open")
			want := map[string]string{"default": `"polling"`, "websocket": `"websocket"`, "polling": `"polling"`}[mode]
			if string(open["transport"]) != want {
				t.Fatalf("first transport %s, want %s", open["transport"], want)
			}
			if mode == "default" {
				if up := nc.waitMsg("upgrade"); string(up["transport"]) != `"websocket"` {
					t.Fatalf("upgrade: %s", up["transport"])
				}
			}
			nc.wait("authe_ok", nil)
			if p := nc.waitMsg("pong"); mode == "polling" && string(p["transport"]) != `"polling"` {
				t.Fatalf("pong over %s", p["transport"])
			}
			if mode == "default" {
				io.WriteString(nc.stdin, "ping\n")
				if p := nc.waitMsg("pong"); string(p["transport"]) != `"websocket"` {
					t.Fatalf("pong after the upgrade over %s", p["transport"])
				}
			}
			e.ami.Emit(DeviceState("203", "UNAVAILABLE"))
			nc.wait("extenUpdate", func(d json.RawMessage) bool {
				var x extEv
				json.Unmarshal(d, &x)
				return x.Exten == "203" && x.Status == "offline"
			})
			e.ami.Emit(DeviceState("203", "NOT_INUSE"))
			nc.wait("extenUpdate", func(d json.RawMessage) bool {
				var x extEv
				json.Unmarshal(d, &x)
				return x.Exten == "203" && x.Status == "online"
			})
		})
	}
}
