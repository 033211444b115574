package cti

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the nethcti token scheme is HMAC-SHA1; clients compute it too
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// bcryptCompare checks a password against its bcrypt hash.
var bcryptCompare = bcrypt.CompareHashAndPassword

// dummyPassword is what the hash compared for unknown users hides: random, so
// no password ever matches it.
func dummyPassword() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return []byte(hex.EncodeToString(b))
}

// Token computes the nethcti token: hex(HMAC-SHA1(key=password,
// msg=username:password:nonce)). Clients compute the same value from the nonce of
// the login answer, so the password itself never travels again.
func Token(username, password, nonce string) string {
	mac := hmac.New(sha1.New, []byte(password))
	mac.Write([]byte(username + ":" + password + ":" + nonce))
	return hex.EncodeToString(mac.Sum(nil))
}

// newNonce is 40 hex digits, as nethcti sends.
func newNonce() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// grant is one accepted token of a user.
type grant struct {
	user    string
	expires time.Time // zero: never (persistent and mobile tokens)
	kind    string    // session|persistent|mobile
}

// tokenGrants holds the accepted tokens, keyed by SHA-256 of the token, so a memory
// dump does not hand out usable tokens. Sliding expiry: each use extends a
// session token by ttl.
type tokenGrants struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[string]*grant
}

func newGrants(ttl time.Duration) *tokenGrants {
	return &tokenGrants{ttl: ttl, now: time.Now, m: map[string]*grant{}}
}

// Add accepts token for user; kind "session" expires, others do not.
func (g *tokenGrants) Add(user, token, kind string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := &grant{user: user, kind: kind}
	if kind == "session" {
		gr.expires = g.now().Add(g.ttl)
	}
	if kind != "session" {
		// One non-expiring token of each kind per user: a new mobile QR code
		// ends the previous mobile login, and so on.
		for k, o := range g.m {
			if o.user == user && o.kind == kind {
				delete(g.m, k)
			}
		}
	}
	g.m[hashSecret(token)] = gr
}

// Check reports whether token belongs to user and is live, extending it.
func (g *tokenGrants) Check(user, token string) bool {
	k := hashSecret(token)
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := g.m[k]
	if gr == nil || gr.user != user {
		return false
	}
	now := g.now()
	if !gr.expires.IsZero() {
		if !now.Before(gr.expires) {
			delete(g.m, k)
			return false
		}
		gr.expires = now.Add(g.ttl)
	}
	return true
}

// Remove revokes one token.
func (g *tokenGrants) Remove(token string) {
	g.mu.Lock()
	delete(g.m, hashSecret(token))
	g.mu.Unlock()
}

// RemoveUser revokes every token of a user (password change, deletion).
func (g *tokenGrants) RemoveUser(user string) {
	g.mu.Lock()
	for k, gr := range g.m {
		if gr.user == user {
			delete(g.m, k)
		}
	}
	g.mu.Unlock()
}

// RemoveKind revokes a user's tokens of one kind.
func (g *tokenGrants) RemoveKind(user, kind string) {
	g.mu.Lock()
	for k, gr := range g.m {
		if gr.user == user && gr.kind == kind {
			delete(g.m, k)
		}
	}
	g.mu.Unlock()
}

// Purge drops expired tokens.
func (g *tokenGrants) Purge() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	now, n := g.now(), 0
	for k, gr := range g.m {
		if !gr.expires.IsZero() && !now.Before(gr.expires) {
			delete(g.m, k)
			n++
		}
	}
	return n
}

// Load restores non-expiring tokens (hashes) at start-up.
func (g *tokenGrants) loadHash(user, hash, kind string) {
	g.mu.Lock()
	g.m[hash] = &grant{user: user, kind: kind}
	g.mu.Unlock()
}
