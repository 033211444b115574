package cti

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

func TestUserValidationChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	before := e.st.Revision()
	str := func(s string) *string { return &s }
	for name, in := range map[string]userInput{
		"no password":        {Username: str("zed")},
		"bad username":       {Username: str("../zed"), Password: str("long-enough")},
		"bad extension":      {Username: str("zed"), Password: str("long-enough"), MainExtension: str("20 1")},
		"unknown profile":    {Username: str("zed"), Password: str("long-enough"), Profile: str("nope")},
		"default not own":    {Username: str("zed"), Password: str("long-enough"), DefaultDevice: str("201")},
		"taken extension":    {Username: str("zed"), Password: str("long-enough"), Endpoints: &[]Endpoint{{ID: "202", Type: "physical"}}},
		"duplicate username": {Username: str("bob"), Password: str("long-enough")},
	} {
		_, err := e.svc.dir.CreateUser(ctx, store.System, in)
		var ve *store.ValidationError
		var ce *store.ConflictError
		if !errors.As(err, &ve) && !errors.As(err, &ce) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if e.st.Revision() != before {
		t.Fatal("a refused user changed the store")
	}
	if err := e.svc.dir.DeleteProfile(ctx, store.System, "basic"); err == nil {
		t.Fatal("deleted a profile in use")
	}
}

// An audit restore of a deleted CTI user brings it back for logins.
func TestRestoreReloadsDirectory(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if err := e.svc.dir.DeleteUser(ctx, store.System, "dave"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.svc.dir.Resolve("dave"); ok {
		t.Fatal("deleted user still resolves")
	}
	rows, _, err := e.st.Audit(ctx, store.AuditFilter{ObjectType: KindUser, ObjectID: "dave", Action: "delete"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("audit: %v %v", rows, err)
	}
	if _, err := e.st.Restore(ctx, store.System, rows[0].ID); err != nil {
		t.Fatal(err)
	}
	// The reload runs off the store's commit (asynchronously): poll for it.
	eventually(t, "restored user resolving by extension", func() bool { _, _, ok := e.svc.dir.Resolve("204"); return ok })
	e.login("dave", "dave-password")
}

func TestLoginThrottled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LoginBurst = 3 })
	post := func(pw string) *http.Response {
		resp, err := http.Post(e.srv.URL+"/webrest/authentication/login", "application/x-www-form-urlencoded", strings.NewReader("username=bob&password="+pw))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := 0; i < 3; i++ {
		if r := post("wrong"); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") != "" {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	if r := post("bob-password"); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after the burst: %d", r.StatusCode)
	}
}
