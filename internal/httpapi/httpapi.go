package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-pbx/switchboard/store"
)

// Roles of admin users.
const (
	RoleAdmin       = "admin"        // everything
	RoleTenantAdmin = "tenant_admin" // the "PBX admin" of one tenant
	RoleAuditor     = "auditor"      // read-only, everywhere
)

// Principal is the authenticated caller of an admin route.
type Principal struct {
	User   string
	Role   string
	Tenant string // set for tenant admins
	IP     string
	Token  string // hash of the bearer token, for logout
}

// Actor is how the principal appears in audit rows.
func (p Principal) Actor() store.Actor { return store.Actor{User: p.User, IP: p.IP} }

// CanWrite reports whether the role may change anything.
func (p Principal) CanWrite() bool { return p.Role != RoleAuditor }

// Sees reports whether an object of tenant is visible to the principal: tenant
// admins see their own tenant only, and everything else answers 404 to them.
func (p Principal) Sees(tenant string) bool {
	return p.Role != RoleTenantAdmin || tenant == p.Tenant
}

// IsAdmin reports whether the principal is a global admin.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin && p.Tenant == "" }

// Handler is an admin route: it gets the authenticated principal (auditors only
// reach it for GET and HEAD) and returns an error that the router answers as JSON.
type Handler func(w http.ResponseWriter, r *http.Request, p Principal) error

// Error is an error with its HTTP status and the JSON field at fault.
type Error struct {
	Status int
	Field  string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf makes an *Error.
func Errorf(status int, field, format string, args ...any) error {
	return &Error{Status: status, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Common refusals.
var (
	ErrForbiddenWrite = Errorf(http.StatusForbidden, "", "your role is read-only")
	ErrAdminOnly      = Errorf(http.StatusForbidden, "", "only an admin may do this")
)

// Status maps an error to its HTTP answer: an *Error as it says, the store's
// refusals (see StoreError) alike everywhere, and a request body that came too
// slowly (408) or too large (413) however deep a handler met it; ok is false
// for anything else, which is a server fault.
func Status(err error) (status int, field, msg string, ok bool) {
	var ae *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.Status, ae.Field, ae.Msg, true
	case isBodyTimeout(err):
		return http.StatusRequestTimeout, "", "request body not received in time", true
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), true
	}
	return StoreError(err)
}

// StoreError maps the store's refusals to their HTTP answer: a validation error
// is 400 naming the field, a conflict 409, a missing object 404, a write on the
// passive HA node 503 naming the active one. Every HTTP front end over the store
// (the admin API, the CTI's /webrest) answers them alike; ok is false for
// anything else.
func StoreError(err error) (status int, field, msg string, ok bool) {
	var ve *store.ValidationError
	var ce *store.ConflictError
	var ro *store.ReadOnlyError
	var nf *store.NotFoundError
	switch {
	case errors.As(err, &nf):
		return http.StatusNotFound, "", nf.What, true
	case errors.As(err, &ro):
		return http.StatusServiceUnavailable, "", ro.Msg, true
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Field, ve.Msg, true
	case errors.As(err, &ce):
		return http.StatusConflict, ce.Field, ce.Msg, true
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "", "not found", true
	}
	return 0, "", "", false
}

// WriteJSON answers v as indented JSON, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away
}

// WriteError answers {"error": msg, "field": field}.
func WriteError(w http.ResponseWriter, status int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	WriteJSON(w, status, body)
}

// MaxBody is the largest JSON request body.
const MaxBody = 1 << 20

// maxDepth is how deeply a request body may nest objects and arrays: no
// configuration object comes near it, and a 1 MiB body of brackets would
// otherwise cost a frame each.
const maxDepth = 64

// Decode reads exactly one JSON object into v, refusing unknown fields, and names
// the field at fault when it can. It refuses what a lenient decoder would take
// silently: a body over MaxBody (413, not a truncated parse), bytes that are
// not UTF-8 and lone UTF-16 surrogate escapes (which would be stored as
// U+FFFD), and a key given twice in one object (which would let the last one
// win unseen; keys that differ only in case count as the same key, since
// they fill the same field).
func Decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Errorf(http.StatusUnsupportedMediaType, "", "Content-Type must be application/json")
	}
	b, err := ReadBody(r, MaxBody)
	if err != nil {
		return err
	}
	if err := checkJSON(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return Errorf(http.StatusBadRequest, "", "request body is empty: expected a JSON object")
		case errors.As(err, &se):
			return Errorf(http.StatusBadRequest, "", "malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return Errorf(http.StatusBadRequest, te.Field, "field %q must be %s, not %s", te.Field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return Errorf(http.StatusBadRequest, f, "unknown field %q", f)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return Errorf(http.StatusBadRequest, "", "truncated JSON body")
		default:
			return Errorf(http.StatusBadRequest, "", "bad JSON body: %v", err)
		}
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "", "request body has data after the JSON object")
	}
	return nil
}

// ReadBody reads a whole request body of at most limit bytes: a longer one is
// 413 (refused from its Content-Length before reading, when it has one), one
// that does not arrive within the read deadline 408.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case isBodyTimeout(err) || errors.Is(err, os.ErrDeadlineExceeded):
		return nil, Errorf(http.StatusRequestTimeout, "", "request body not received in time")
	case errors.As(err, &mbe):
		return nil, tooLarge(mbe.Limit)
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, "", "reading the request body: %v", err)
	case int64(len(b)) > limit:
		return nil, tooLarge(limit)
	}
	return b, nil
}

// isBodyTimeout recognizes the error of a body read cut off by the HTTPS
// listener's body deadline (package httpd).
func isBodyTimeout(err error) bool {
	var bt interface{ BodyTimeout() bool }
	return errors.As(err, &bt) && bt.BodyTimeout()
}

func tooLarge(limit int64) error {
	if limit%(1<<20) == 0 {
		return Errorf(http.StatusRequestEntityTooLarge, "", "request body is larger than %d MiB", limit>>20)
	}
	return Errorf(http.StatusRequestEntityTooLarge, "", "request body is larger than %d bytes", limit)
}

// checkJSON refuses invalid UTF-8, lone surrogate escapes, duplicate keys and
// deep nesting. Syntax errors are left to the decoder, which words them better.
func checkJSON(b []byte) error {
	if !utf8.Valid(b) {
		return Errorf(http.StatusBadRequest, "", "request body is not valid UTF-8")
	}
	if err := checkEscapes(b); err != nil {
		return err
	}
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*frame
	// value marks a value complete in the enclosing object: a key comes next.
	value := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error for the decoder to report
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxDepth {
					return Errorf(http.StatusBadRequest, "", "request body nests deeper than %d levels", maxDepth)
				}
				f := &frame{}
				if t == '{' {
					f.keys, f.wantKey = map[string]bool{}, true
				}
				stack = append(stack, f)
			default:
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
				value()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].wantKey {
				f := stack[n-1]
				k := strings.ToLower(t)
				if f.keys[k] {
					return Errorf(http.StatusBadRequest, t, "key %q given twice in one object", t)
				}
				f.keys[k] = true
				f.wantKey = false
				continue
			}
			value()
		default:
			value()
		}
	}
}

// checkEscapes finds \u escapes of UTF-16 surrogates that do not pair up:
// encoding/json turns them into U+FFFD without a word.
func checkEscapes(b []byte) error {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			in = !in
		case in && c == '\\':
			r, ok := hex4(i)
			if !ok {
				i++ // a short escape (\", \\, \n, ...): skip its letter
				continue
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if lo, ok := hex4(i + 6); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 11
					continue
				}
				return Errorf(http.StatusBadRequest, "", "request body has an unpaired UTF-16 surrogate escape at byte %d", i)
			case r >= 0xDC00 && r < 0xE000:
				return Errorf(http.StatusBadRequest, "", "request body has an unpaired UTF-16 surrogate escape at byte %d", i)
			}
			i += 5
		}
	}
	return nil
}

// Query returns the query parameters, refusing any not in allowed.
func Query(r *http.Request, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			if a == k {
				ok = true
			}
		}
		if !ok {
			return nil, Errorf(http.StatusBadRequest, k, "unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, Errorf(http.StatusBadRequest, k, "query parameter %q given more than once", k)
		}
		out[k] = vs[0]
	}
	return out, nil
}

// IntParam is an integer query parameter (0 when absent).
func IntParam(q map[string]string, name string) (int, error) {
	s, ok := q[name]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, Errorf(http.StatusBadRequest, name, "%s must be an integer", name)
	}
	return n, nil
}

// AdminRouter is where admin routes are added (component.Router is one).
type AdminRouter interface {
	Admin(pattern string, h Handler)
}

// Tenants resolves the {tenant} path value of admin routes: a UUID, or
// "default" for the single-tenant box's tenant. An unknown tenant is
// store.ErrNotFound.
type Tenants interface {
	ResolveTenant(ctx context.Context, ref string) (string, error)
}

// TenantOf resolves {tenant} for p: another tenant's objects answer 404 to a
// tenant admin, as if they did not exist.
func TenantOf(r *http.Request, p Principal, ts Tenants) (string, error) {
	id, err := ts.ResolveTenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return "", err
	}
	if !p.Sees(id) {
		return "", store.ErrNotFound
	}
	return id, nil
}

// RawObject reads a JSON object body (strictly, as Decode).
func RawObject(r *http.Request) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := Decode(r, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, Errorf(http.StatusBadRequest, "", "expected a JSON object")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("httpapi: re-encode body: %w", err)
	}
	return b, nil
}

// CRUD is one collection of objects; tenant is "" for global collections.
type CRUD struct {
	// View is what answers show of an object or a list of them (to mask
	// secrets); nil shows them as they are.
	View func(v any) any
	List func(ctx context.Context, tenant string) (any, error)
	// Page, when set, serves list requests with q, limit or offset: one page of
	// the matching objects and their total, read without loading them all.
	Page   func(ctx context.Context, tenant, q string, limit, offset int) (any, int, error)
	Get    func(ctx context.Context, tenant, id string) (any, error)
	Save   func(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (any, error)
	Delete func(ctx context.Context, actor store.Actor, tenant, id string) error
}

// view is what an answer shows of v.
func (c CRUD) view(v any) any {
	if c.View == nil {
		return v
	}
	return c.View(v)
}

// MountCRUD adds list (GET) and create (POST) under base and get, update
// (PATCH) and delete under base/{id}. A global collection (base without
// {tenant}) is written by admins only; a tenant's is resolved with ts.
func MountCRUD(rt AdminRouter, base string, global bool, ts Tenants, c CRUD) {
	scope := func(r *http.Request, p Principal, write bool) (string, error) {
		if global {
			if write && p.Role != RoleAdmin {
				return "", ErrAdminOnly
			}
			return "", nil
		}
		return TenantOf(r, p, ts)
	}
	rt.Admin("GET "+base, func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := scope(r, p, false)
		if err != nil {
			return err
		}
		if c.Page != nil && r.URL.RawQuery != "" {
			q, lim, off, err := PageParams(r)
			if err != nil {
				return err
			}
			v, total, err := c.Page(r.Context(), t, q, lim, off)
			if err != nil {
				return err
			}
			WriteJSON(w, http.StatusOK, map[string]any{"items": c.view(v), "total": total, "limit": lim, "offset": off})
			return nil
		}
		v, err := c.List(r.Context(), t)
		if err != nil {
			return err
		}
		SortItems(v)
		WriteJSON(w, http.StatusOK, map[string]any{"items": c.view(v)})
		return nil
	})
	rt.Admin("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := scope(r, p, false)
		if err != nil {
			return err
		}
		v, err := c.Get(r.Context(), t, r.PathValue("id"))
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, c.view(v))
		return nil
	})
	write := func(status int) Handler {
		return func(w http.ResponseWriter, r *http.Request, p Principal) error {
			t, err := scope(r, p, true)
			if err != nil {
				return err
			}
			body, err := RawObject(r)
			if err != nil {
				return err
			}
			v, err := c.Save(r.Context(), p.Actor(), t, r.PathValue("id"), body)
			if err != nil {
				return err
			}
			WriteJSON(w, status, c.view(v))
			return nil
		}
	}
	rt.Admin("POST "+base, write(http.StatusCreated))
	rt.Admin("PATCH "+base+"/{id}", write(http.StatusOK))
	rt.Admin("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := scope(r, p, true)
		if err != nil {
			return err
		}
		if err := c.Delete(r.Context(), p.Actor(), t, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// sortKeys are the JSON fields list answers are ordered by, the first one an
// item has: what a person scans a list for.
var sortKeys = []string{"mac", "extension", "username", "name", "id"}

// SortItems orders a slice of structs (or of pointers to structs) by the first
// of sortKeys its items have, comparing digit runs of extensions and names as
// numbers ("202" before "1001"), so every list the API answers comes in the same, readable order.
// Anything else is left alone.
func SortItems(v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice || rv.Len() < 2 {
		return
	}
	et := rv.Type().Elem()
	ptr := et.Kind() == reflect.Pointer
	if ptr {
		et = et.Elem()
	}
	if et.Kind() != reflect.Struct {
		return
	}
	var idx []int
	natural := false
	for _, k := range sortKeys {
		if idx = fieldByJSON(et, k); idx != nil {
			// Extensions are numbers; MACs and names are compared as text.
			natural = k == "extension" || k == "name" || k == "username"
			break
		}
	}
	if idx == nil {
		return
	}
	key := func(i int) string {
		e := rv.Index(i)
		if ptr {
			if e.IsNil() {
				return ""
			}
			e = e.Elem()
		}
		return fmt.Sprint(e.FieldByIndex(idx).Interface())
	}
	sort.SliceStable(v, func(i, j int) bool {
		if natural {
			return NaturalLess(key(i), key(j))
		}
		return strings.ToLower(key(i)) < strings.ToLower(key(j))
	})
}

func fieldByJSON(t reflect.Type, name string) []int {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name && f.IsExported() {
			return []int{i}
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && tag == "" {
			if sub := fieldByJSON(f.Type, name); sub != nil {
				return append([]int{i}, sub...)
			}
		}
	}
	return nil
}

// NaturalLess compares case-insensitively, digit runs by their value.
func NaturalLess(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// Page sizes of paged lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageParams reads q, limit (default 50, at most 1000) and offset, refusing any
// other query parameter.
func PageParams(r *http.Request) (q string, limit, offset int, err error) {
	qs, err := Query(r, "q", "limit", "offset")
	if err != nil {
		return "", 0, 0, err
	}
	if limit, err = IntParam(qs, "limit"); err != nil {
		return "", 0, 0, err
	}
	if offset, err = IntParam(qs, "offset"); err != nil {
		return "", 0, 0, err
	}
	if _, ok := qs["limit"]; !ok {
		limit = DefaultPageSize
	}
	switch {
	case limit < 1 || limit > MaxPageSize:
		return "", 0, 0, Errorf(http.StatusBadRequest, "limit", "limit must be 1-%d", MaxPageSize)
	case offset < 0:
		return "", 0, 0, Errorf(http.StatusBadRequest, "offset", "offset must not be negative")
	case len(qs["q"]) > 128:
		return "", 0, 0, Errorf(http.StatusBadRequest, "q", "q is longer than 128 characters")
	}
	return qs["q"], limit, offset, nil
}
