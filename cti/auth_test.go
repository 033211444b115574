package cti

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/store"
)

// F7: a login costs the same work whether the user exists or not, is disabled
// or not: exactly one bcrypt comparison at the configured cost. (Counting the
// work instead of timing it keeps the test exact on a loaded machine.)
func TestLoginWorkIndependentOfUser(t *testing.T) {
	const cost = 6 // above bcrypt.MinCost, so a cheaper stand-in shows
	e := newEnv(t, func(c *Config) { c.BcryptCost = cost })
	disabled := true
	if _, err := e.svc.dir.UpdateUser(context.Background(), store.System, "dave", userInput{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var costs []int
	e.svc.compare = func(hash, pw []byte) error {
		c, err := bcrypt.Cost(hash)
		if err != nil {
			c = -1
		}
		mu.Lock()
		costs = append(costs, c)
		mu.Unlock()
		return bcryptCompare(hash, pw)
	}
	for _, c := range []struct{ name, user, pw string }{
		{"known user, right password", "bob", "bob-password"},
		{"known user, wrong password", "bob", "wrong-password"},
		{"known user by extension", "202", "wrong-password"},
		{"unknown user", "nobody", "bob-password"},
		{"unknown user@domain", "nobody@example.org", "x"},
		{"unknown extension", "299", "x"},
		{"disabled user, right password", "dave", "dave-password"},
	} {
		mu.Lock()
		costs = nil
		mu.Unlock()
		resp, err := http.Post(e.srv.URL+"/webrest/authentication/login", "application/json",
			strings.NewReader(`{"username":"`+c.user+`","password":"`+c.pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		got := append([]int(nil), costs...)
		mu.Unlock()
		if len(got) != 1 || got[0] != cost {
			t.Errorf("%s: bcrypt comparisons at costs %v, want exactly one at cost %d", c.name, got, cost)
		}
		if ok := resp.Header.Get("WWW-Authenticate") != ""; ok != (c.name == "known user, right password") {
			t.Errorf("%s: accepted = %v", c.name, ok)
		}
	}
}
