package ha

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

func pipePair(t *testing.T, keyA, keyB []byte) (*syncConn, *syncConn, error, error) {
	// TCP on loopback, not net.Pipe: both sides write their nonce before reading.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	type res struct {
		c   *syncConn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := handshake(b, keyB, false); ch <- res{c, err} }()
	ca, errA := handshake(a, keyA, true)
	r := <-ch
	return ca, r.c, errA, r.err
}

func TestSyncFrames(t *testing.T) {
	d, acc, e1, e2 := pipePair(t, testKey, testKey)
	if e1 != nil || e2 != nil {
		t.Fatal(e1, e2)
	}
	go func() {
		d.write(msgAck, revPayload(7))
		d.write(msgAck, revPayload(8))
	}()
	for _, want := range []int64{7, 8} {
		typ, p, err := acc.read()
		if err != nil || typ != msgAck {
			t.Fatalf("read: %v %d", err, typ)
		}
		if rev, err := parseRev(p); err != nil || rev != want {
			t.Fatalf("revision %d %v, want %d", rev, err, want)
		}
	}
}

func TestSyncWrongKeyRejected(t *testing.T) {
	d, acc, e1, e2 := pipePair(t, testKey, bytes.Repeat([]byte{9}, 32))
	if e1 != nil || e2 != nil {
		t.Fatal(e1, e2) // the nonce exchange itself carries no secret
	}
	go d.write(msgSnapshot, []byte(`{"revision":1}`))
	if _, _, err := acc.read(); err == nil {
		t.Fatal("a frame sealed with another key was accepted")
	}
}

func FuzzSyncFrame(f *testing.F) {
	mk := func() (*syncConn, *syncConn) {
		n1, n2 := bytes.Repeat([]byte{1}, nonceLen), bytes.Repeat([]byte{2}, nonceLen)
		s, _ := newSyncConn(nil, testKey, n1, n2, true)
		r, _ := newSyncConn(nil, testKey, n1, n2, false)
		return s, r
	}
	s, _ := mk()
	snap, _ := json.Marshal(store.Snapshot{Revision: 3, Objects: []store.ReplicaObject{{Kind: "user", ID: "x", Data: `{}`}}})
	f.Add(s.send.Seal(nil, ctrNonce(0), append([]byte{msgSnapshot}, snap...), nil))
	f.Add(s.send.Seal(nil, ctrNonce(0), []byte{msgAck, 0, 0, 0, 0, 0, 0, 0, 1}, nil))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, sealed []byte) {
		_, r := mk()
		typ, p, err := r.open(sealed)
		if err != nil {
			return
		}
		switch typ {
		case msgAck, msgKeepalive:
			parseRev(p) //nolint:errcheck // must only not panic
		case msgSnapshot:
			decodeSnapshot(p) //nolint:errcheck
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"revision":2,"objects":[{"kind":"user","id":"a","data":"{}"}]}`))
	f.Add([]byte(`{"revision":-1}`))
	f.Add([]byte(`{"objects":[{"kind":"","id":"a","data":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		for _, o := range snap.Objects {
			if o.Kind == "" || o.ID == "" || !json.Valid([]byte(o.Data)) {
				t.Fatalf("accepted a malformed object %+v", o)
			}
		}
	})
}

func TestHelloCarriesTheAuditHead(t *testing.T) {
	head := store.AuditMark{ID: 42, Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	rev, got, err := parseHello(helloPayload(7, head))
	if err != nil || rev != 7 || got != head {
		t.Fatalf("got %d %+v %v", rev, got, err)
	}
	// A bare revision (an older passive): the zero mark, so the whole chain is sent.
	rev, got, err = parseHello(revPayload(9))
	if err != nil || rev != 9 || got != (store.AuditMark{}) {
		t.Fatalf("bare revision: %d %+v %v", rev, got, err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, append(revPayload(1), 1, 2, 3), append(revPayload(1), make([]byte, 200)...)} {
		if _, _, err := parseHello(bad); err == nil {
			t.Fatalf("hello %x accepted", bad)
		}
	}
}
