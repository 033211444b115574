package apidoc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/switchboard-pbx/switchboard/internal/component"
)

// Op describes one route of the admin API.
type Op struct {
	// Pattern is the route's net/http pattern, exactly as mounted:
	// "GET /api/v1/tenants/{id}".
	Pattern string
	// Tag groups operations in viewers ("users", "devices", ...).
	Tag string
	// Summary says what the route does, in one line.
	Summary string
	// In is the request body: a value of its Go type, or CSV, Binary; nil for none.
	In any
	// Out is the answer's body: a value of its Go type, List(value) for
	// {"items": [...]}, CSV, Binary; nil answers 204 No Content.
	Out any
	// Status is the success status when it is not 200 (or 204 without Out).
	Status int
	// Query lists the query parameters the route accepts.
	Query []string
	// Public routes need no bearer token.
	Public bool
}

// Media-type markers for In and Out.
type (
	csvBody    struct{}
	binaryBody struct{}
	textBody   struct{}
	listBody   struct{ of any }
	anyObject  struct{}
)

// CSV is a text/csv body; Binary an application/octet-stream one; Text a
// text/plain one; Object any JSON object.
var (
	CSV    = csvBody{}
	Binary = binaryBody{}
	Text   = textBody{}
	Object = anyObject{}
)

// List is an answer {"items": [v...]}.
func List(v any) any { return listBody{of: v} }

// Patterns are the patterns the table describes.
func Patterns() []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.Pattern
	}
	sort.Strings(out)
	return out
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// Document is the OpenAPI 3.1 document of the table, for the given version.
func Document(version string) ([]byte, error) {
	s := &schemas{defs: map[string]any{}}
	errSchema := map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
		"error": map[string]any{"type": "string", "description": "what is wrong, in words"},
		"field": map[string]any{"type": "string", "description": "the request field at fault, when there is one"},
	}}
	s.defs["Error"] = errSchema
	paths := map[string]map[string]any{}
	seen := map[string]bool{}
	for _, o := range ops {
		if seen[o.Pattern] {
			return nil, fmt.Errorf("apidoc: %s described twice", o.Pattern)
		}
		seen[o.Pattern] = true
		method, path, ok := strings.Cut(o.Pattern, " ")
		if !ok || !strings.HasPrefix(path, "/api/v1/") {
			return nil, fmt.Errorf("apidoc: %q is not METHOD /api/v1/...", o.Pattern)
		}
		op := map[string]any{
			"summary":     o.Summary,
			"tags":        []string{o.Tag},
			"operationId": operationID(method, path),
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
				"schema": map[string]any{"type": "string"}, "description": paramHelp[m[1]]})
		}
		for _, q := range o.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if o.In != nil {
			op["requestBody"] = map[string]any{"required": true, "content": s.content(o.In)}
		}
		status := o.Status
		resp := map[string]any{"description": "success"}
		if o.Out == nil {
			if status == 0 {
				status = http.StatusNoContent
			}
		} else {
			if status == 0 {
				status = http.StatusOK
			}
			resp["content"] = s.content(o.Out)
		}
		op["responses"] = map[string]any{
			fmt.Sprint(status): resp,
			"default": map[string]any{"description": "an error", "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
		}
		if o.Public {
			op["security"] = []any{}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Switchboard admin API",
			"version": version,
			"description": "The admin API of the Switchboard appliance: users, tenants, the audit log, " +
				"provisioning (devices, accounts, templates, models), and the services that are switched on " +
				"(CTI, DHCP, HA, vendor redirection). Log in at POST /api/v1/login and send the token as " +
				"'Authorization: Bearer TOKEN'; the control socket of the CLI needs no token. Errors are " +
				`{"error": "...", "field": "..."}. A {tenant} is a tenant's UUID, its name, or "default".`,
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"bearer": []string{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": s.defs, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// content is the media-type map of a body.
func (s *schemas) content(v any) map[string]any {
	switch b := v.(type) {
	case csvBody:
		return map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}
	case binaryBody:
		return map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}}}
	case textBody:
		return map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case anyObject:
		return map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
	case listBody:
		return map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object",
			"properties": map[string]any{"items": map[string]any{"type": "array", "items": s.of(reflect.TypeOf(b.of))}}}}}
	}
	return map[string]any{"application/json": map[string]any{"schema": s.of(reflect.TypeOf(v))}}
}

// operationID is a stable identifier: "get_tenants_tenant_devices_id".
func operationID(method, path string) string {
	p := strings.NewReplacer("/api/v1/", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(path)
	return strings.ToLower(method) + "_" + p
}

var paramHelp = map[string]string{
	"tenant": `the tenant's UUID, its name, or "default" (the single-tenant tenant)`,
	"id":     "the object's id",
	"name":   "the object's name",
	"mac":    "a MAC address (AABBCCDDEEFF, AA:BB:CC:DD:EE:FF or AA-BB-CC-DD-EE-FF)",
}

// Component serves the document at GET /api/v1/openapi.json, without
// authentication (it holds no data).
type Component struct {
	component.Base
	doc []byte
	err error
}

var _ component.Component = (*Component)(nil)

// New builds the document once.
func New(version string) *Component {
	doc, err := Document(version)
	return &Component{doc: doc, err: err}
}

// Name is the component's name.
func (c *Component) Name() string { return "openapi" }

// Bind reports a table that cannot make a document.
func (c *Component) Bind(context.Context) error { return c.err }

// Serve has nothing to run.
func (c *Component) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

// Routes mounts the document.
func (c *Component) Routes(r component.Router) {
	r.Handle("GET /api/v1/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(c.doc) //nolint:errcheck // the client went away
	}))
}
