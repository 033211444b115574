package redirect_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/redirect"
)

// answerer is an in-memory vendor: every request gets status and body, and the
// first one also the Link header (a "next page" that must not loop forever).
// In memory, so that one execution is a few microseconds of parsing rather
// than a server start: an httptest server per execution made 13 a minute.
type answerer struct {
	status     int
	link, body string
	calls      int
}

func (a *answerer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := http.Header{"Retry-After": {a.link}}
	if a.calls == 0 && a.link != "" {
		h.Set("Link", a.link)
	}
	a.calls++
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(strings.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

var fuzzAPIs = [][2]string{{"snom", "sraps"}, {"snom", "xmlrpc"}, {"yealink", "xmlrpc"}, {"yealink", "ymcs"},
	{"escene", "xmlrpc"}, {"fanvil", "fdps"}, {"gigaset", "autoprov"}}

// FuzzVendorAnswers feeds a client (api picks which) arbitrary answers (status,
// Link and Retry-After headers, body) to one operation (op picks Test,
// Register, Deregister or Check): none may panic or loop, and every failure
// must be classified.
func FuzzVendorAnswers(f *testing.F) {
	bodies := []struct {
		status     int
		link, body string
	}{
		{200, "", `<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value>OK</value></data></array></value></param></params></methodResponse>`},
		{200, "", `{"links":{"company":"/api/v1/companies/x/","endpoints":"/api/v1/companies/x/endpoints/"},"access_token":"t","expires_in":3600}`},
		{200, `</api/v1/settings/?page=2>; rel="next"`, `[{"uuid":"u","param_name":"setting_server"}]`},
		{429, "", `{"code":900429,"message":"slow down"}`},
		{200, "", `{"code":800004,"message":"other org","data":null}`},
		{403, "", `{"error":"taken_mac_or_forbidden"}`},
		{200, "", `{"data":[{"id":"s","serverName":"S","mac":"000413AABBCC","serverId":"s"}]}`},
		{500, "", `<html>`},
		{200, "", `<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault></methodResponse>`},
	}
	for i, b := range bodies {
		for op := 0; op < 4; op++ {
			f.Add(uint8(i%len(fuzzAPIs)), uint8(op), b.status, b.link, b.body)
		}
	}
	ctx := context.Background()
	tg := redirect.Target{MAC: "000413AABBCC", Code: "AB12"}
	f.Fuzz(func(t *testing.T, api, op uint8, status int, link, body string) {
		if status < 200 || status > 599 { // 1xx would leave the client waiting for a final answer
			status = 200
		}
		a := &answerer{status: status, link: link, body: body}
		which := fuzzAPIs[int(api)%len(fuzzAPIs)]
		c, err := redirect.NewClient(redirect.Endpoint{Brand: which[0], API: which[1], BaseURL: "http://vendor.invalid/api/v1/",
			User: "u", Secret: "s", ServerName: "S", URL: "http://127.0.0.1/p/", HTTP: &http.Client{Transport: a}})
		if err != nil {
			t.Fatal(err)
		}
		switch op % 4 {
		case 0:
			err = c.Test(ctx)
		case 1:
			err = c.Register(ctx, tg)
		case 2:
			err = c.Deregister(ctx, tg)
		default:
			c.Check(ctx, tg) //nolint:errcheck // must not panic
		}
		if err != nil && redirect.ClassOf(err) == "" {
			t.Fatalf("%v: unclassified error %v", which, err)
		}
		if a.calls > 60 {
			t.Fatalf("%v: %d requests for one operation", which, a.calls)
		}
	})
}
