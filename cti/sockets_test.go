package cti

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/siotest"
)

func TestSocketWrongTokenAndTakeover(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := siotest.Dial(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "bob", strings.Repeat("f", 40), "desktop"); !errors.Is(err, siotest.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("not disconnected after 401")
	}

	first := e.socket("bob")
	second := e.socket("bob")
	expect(t, first, "takeOver", func(map[string]string) bool { return true })
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("taken-over socket still open")
	}
	// The mobile client of the same user is not taken over by a desktop login.
	mctx, mcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer mcancel()
	mob, err := siotest.Dial(mctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer mob.Close()
	if err := mob.Login(mctx, "bob", e.login("bob", "bob-password"), "mobile"); err != nil {
		t.Fatal(err)
	}
	e.ami.Emit(amitest.DeviceState("202", "UNAVAILABLE"))
	expect(t, second, "extenUpdate", func(x extEv) bool { return x.Exten == "202" })
	expect(t, mob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" })
}

func TestSocketRateLimitAndTransport(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SocketBurst = 3; c.SocketInterval = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		c, err := siotest.Dial(ctx, e.srv.URL)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	if _, err := siotest.Dial(ctx, e.srv.URL); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("4th connection in the burst: %v", err)
	}
	// Long polling is not offered: the clients use transports:['websocket'].
	resp, err := http.Get(e.srv.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("polling: %d", resp.StatusCode)
	}
}
