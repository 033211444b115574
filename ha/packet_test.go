package ha

import (
	"bytes"
	"testing"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func TestHeartbeatRoundTrip(t *testing.T) {
	hb := Heartbeat{Role: RoleActive, DefaultActive: true, Reach: 1, Group: 2, Epoch: 9, Boot: 3, Seq: 44,
		Sent: 1e18, Echo: -5, Hold: 100, Revision: 12, Name: "SB-0001", Takeover: true, Fresh: true}
	b, err := hb.Marshal(testKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseHeartbeat(b, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if got != hb {
		t.Fatalf("round trip: got %+v want %+v", got, hb)
	}
	if _, err := ParseHeartbeat(b, bytes.Repeat([]byte{8}, 32)); err != errMAC {
		t.Fatalf("wrong key accepted: %v", err)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := ParseHeartbeat(c, testKey); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := ParseHeartbeat(b[:len(b)-1], testKey); err == nil {
		t.Fatal("truncated packet accepted")
	}
	if _, err := (Heartbeat{Name: string(make([]byte, maxName+1))}).Marshal(testKey); err == nil {
		t.Fatal("over-long name accepted")
	}
}

func FuzzParseHeartbeat(f *testing.F) {
	good, _ := Heartbeat{Role: RolePassive, Reach: 0, Group: 1, Name: "b"}.Marshal(testKey)
	f.Add(good)
	f.Add([]byte("SBH1"))
	f.Add([]byte{})
	f.Add(append([]byte("SBH1"), make([]byte, 200)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := ParseHeartbeat(b, testKey)
		if err != nil {
			return
		}
		// Whatever parses must re-encode to the same bytes: nothing is silently dropped.
		out, err := hb.Marshal(testKey)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("accepted packet does not round-trip: %x", b)
		}
	})
}
