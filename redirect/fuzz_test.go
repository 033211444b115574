package redirect_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
)

// FuzzVendorAnswers feeds every client arbitrary answers (status, headers and
// body from the vendor): none may panic, and every failure must be classified.
func FuzzVendorAnswers(f *testing.F) {
	f.Add(200, "", `<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value>OK</value></data></array></value></param></params></methodResponse>`)
	f.Add(200, "", `{"links":{"company":"/api/v1/companies/x/","endpoints":"/api/v1/companies/x/endpoints/"},"access_token":"t","expires_in":3600}`)
	f.Add(200, `</api/v1/settings/?page=2>; rel="next"`, `[{"uuid":"u","param_name":"setting_server"}]`)
	f.Add(429, "", `{"code":900429,"message":"slow down"}`)
	f.Add(200, "", `{"code":800004,"message":"other org","data":null}`)
	f.Add(403, "", `{"error":"taken_mac_or_forbidden"}`)
	f.Add(200, "", `{"data":[{"id":"s","serverName":"S","mac":"000413AABBCC","serverId":"s"}]}`)
	f.Add(500, "", `<html>`)
	f.Add(200, "", `<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault></methodResponse>`)
	f.Fuzz(func(t *testing.T, status int, link, body string) {
		if status < 200 || status > 599 { // 1xx would leave the client waiting for a final answer
			status = 200
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if link != "" {
				w.Header().Set("Link", link)
			}
			w.Header().Set("Retry-After", link)
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		defer srv.Close()
		hc := &http.Client{Timeout: 2 * time.Second}
		ctx := context.Background()
		for _, api := range [][2]string{{"snom", "sraps"}, {"snom", "xmlrpc"}, {"yealink", "xmlrpc"}, {"yealink", "ymcs"},
			{"escene", "xmlrpc"}, {"fanvil", "fdps"}, {"gigaset", "autoprov"}} {
			c, err := redirect.NewClient(redirect.Endpoint{Brand: api[0], API: api[1], BaseURL: srv.URL + "/api/v1/",
				User: "u", Secret: "s", ServerName: "S", URL: "http://127.0.0.1/p/", HTTP: hc})
			if err != nil {
				t.Fatal(err)
			}
			tg := redirect.Target{MAC: "000413AABBCC", Code: "AB12"}
			for _, err := range []error{c.Test(ctx), c.Register(ctx, tg), c.Deregister(ctx, tg)} {
				if err != nil && redirect.ClassOf(err) == "" {
					t.Fatalf("%v: unclassified error %v", api, err)
				}
			}
			c.Check(ctx, tg) //nolint:errcheck // must not panic
		}
	})
}
