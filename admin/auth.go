package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// Principal is the authenticated caller of a request.
type Principal = httpapi.Principal

type ctxKey int

const principalKey ctxKey = 1

func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// remoteIP is the address of the peer (no proxy headers are trusted).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var errThrottled = errors.New("too many failed logins")

// authenticate resolves the bearer token of r to a principal.
func (a *API) authenticate(r *http.Request) (Principal, bool) {
	if p, ok := principalFrom(r.Context()); ok {
		return p, true // the control socket already knows its peer
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Principal{}, false
	}
	th := hashToken(strings.TrimSpace(tok))
	se, err := a.st.LookupSession(r.Context(), th, time.Now())
	if err != nil {
		return Principal{}, false
	}
	u, err := a.users.Get(r.Context(), se.Username)
	if err != nil || u.Disabled {
		return Principal{}, false
	}
	return Principal{User: u.Username, Role: u.Role, Tenant: u.Tenant, IP: remoteIP(r), Token: th}, true
}
