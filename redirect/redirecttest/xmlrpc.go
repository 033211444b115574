package redirecttest

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/switchboard-pbx/switchboard/redirect/xmlrpc"
)

// rpcMethod answers one XML-RPC call with a value.
type rpcMethod func(params []any) any

// xmlrpcHandler checks the path, the content type and HTTP Basic exactly, then
// dispatches the call.
func xmlrpcHandler(d **Double, path, user, pass string, methods map[string]rpcMethod) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			(*d).authFailed()
			w.Header().Set("WWW-Authenticate", `Basic realm="redirect"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
			http.Error(w, "content type must be text/xml", http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		name, params, err := xmlrpc.ParseCall(body)
		if err != nil {
			w.Header().Set("Content-Type", "text/xml")
			w.Write(xmlrpc.EncodeFault(-32700, "parse error: "+err.Error())) // test double
			return
		}
		(*d).count(name)
		m, ok := methods[name]
		w.Header().Set("Content-Type", "text/xml")
		if !ok {
			w.Write(xmlrpc.EncodeFault(-32601, "method not found: "+name)) // test double
			return
		}
		out, err := xmlrpc.EncodeResponse(m(params))
		if err != nil {
			panic(err) // a bug in the double
		}
		w.Write(out) // test double
	}
}

func str(params []any, i int) (string, bool) {
	if i >= len(params) {
		return "", false
	}
	s, ok := params[i].(string)
	return s, ok
}

// ---- Snom legacy XML-RPC ----

// Snom is the legacy Snom XML-RPC service (path /xmlrpc/, trailing slash
// required; typed <string> values; [boolean, string...] answers).
type Snom struct{ *Double }

// NewSnom starts a Snom XML-RPC double accepting user/pass.
func NewSnom(user, pass string) *Snom {
	s := &Snom{}
	var d *Double
	res := func(ok bool, msgs ...string) any {
		out := []any{ok}
		for _, m := range msgs {
			out = append(out, m)
		}
		return out
	}
	methods := map[string]rpcMethod{
		"redirect.registerPhone": func(p []any) any {
			mac, _ := str(p, 0)
			u, ok := str(p, 1)
			m := snomMAC(mac)
			switch {
			case m == "":
				return res(false, "Error:malformed_mac")
			case !ok || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")):
				return res(false, "Error:malformed_url")
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.owned[m] {
				return res(false, "Error:owned_by_other_user")
			}
			d.devices[m] = u
			return res(true, "Ok")
		},
		"redirect.deregisterPhone": func(p []any) any {
			mac, _ := str(p, 0)
			m := snomMAC(mac)
			if m == "" {
				return res(false, "Error:malformed_mac")
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.owned[m] {
				return res(false, "Error:owned_by_other_user")
			}
			if _, ok := d.devices[m]; !ok {
				return res(false, "Error:no_such_mac")
			}
			delete(d.devices, m)
			return res(true, "Ok")
		},
		"redirect.checkPhone": func(p []any) any {
			mac, _ := str(p, 0)
			if snomMAC(mac) == "" {
				return res(false, "Error:malformed_mac")
			}
			return res(true, "ok")
		},
		"redirect.getPhoneRedirection": func(p []any) any {
			mac, _ := str(p, 0)
			m := snomMAC(mac)
			if m == "" {
				return res(false, "Error:malformed_mac")
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.owned[m] {
				return res(false, "Error:owned_by_other_user")
			}
			u, ok := d.devices[m]
			if !ok {
				return res(false, "Error:no_such_mac")
			}
			return res(true, "Test Company", u)
		},
	}
	d = newDouble(xmlrpcHandler(&d, "/xmlrpc/", user, pass, methods), plain429)
	s.Double = d
	return s
}

var hex12 = regexp.MustCompile(`^[0-9A-Fa-f]{12}$`)

// snomMAC: Snom's service takes 12 hex digits without separators.
func snomMAC(m string) string {
	if !hex12.MatchString(m) {
		return ""
	}
	return strings.ToUpper(m)
}

// ---- Yealink RPS legacy XML-RPC (and the Escene double) ----

// Yealink is the Yealink RPS XML-RPC service: servers are defined beforehand
// (AddServer, as in the web GUI) and referenced by name; answers are
// [<boolean>, untyped value].
type Yealink struct {
	*Double
	servers map[string]string
}

// NewYealink starts a Yealink RPS double at path /xmlrpc.
func NewYealink(user, pass string) *Yealink { return newYealink("/xmlrpc", user, pass) }

// NewEscene starts the Escene double. Escene's API is inferred to be
// Yealink-shaped (UNVERIFIED), so this is the Yealink double at path.
func NewEscene(path, user, pass string) *Yealink { return newYealink(path, user, pass) }

func newYealink(path, user, pass string) *Yealink {
	y := &Yealink{servers: map[string]string{}}
	var d *Double
	res := func(ok bool, msg string) any { return []any{ok, xmlrpc.Untyped(msg)} }
	methods := map[string]rpcMethod{
		"redirect.registerDevice": func(p []any) any {
			mac, _ := str(p, 0)
			server, _ := str(p, 1)
			override, _ := str(p, 2)
			m := norm(mac)
			d.mu.Lock()
			defer d.mu.Unlock()
			switch {
			case m == "":
				return res(false, "Error:Invalid MAC(s):"+mac)
			case y.servers[server] == "":
				return res(false, "Error:Invalid server")
			case d.owned[m] && override != "1":
				return res(false, "Error:The MAC(s) "+m+" has been registered by another user.\nOverride?")
			case d.devices[m] == server:
				return res(false, "Existing MAC(s):"+m)
			}
			delete(d.owned, m)
			d.devices[m] = server
			return res(true, "OK")
		},
		"redirect.deRegisterDevice": func(p []any) any {
			mac, _ := str(p, 0)
			m := norm(mac)
			d.mu.Lock()
			defer d.mu.Unlock()
			if _, ok := d.devices[m]; !ok || m == "" {
				return res(false, "Error:Invalid MAC(s):"+mac)
			}
			delete(d.devices, m)
			return res(true, "OK")
		},
		"redirect.checkDevice": func(p []any) any {
			mac, _ := str(p, 0)
			m := norm(mac)
			d.mu.Lock()
			defer d.mu.Unlock()
			switch {
			case m == "":
				return res(false, "Error:Invalid MAC")
			case d.owned[m]:
				return res(true, "registered elsewhere")
			case d.devices[m] != "":
				return res(true, "registered")
			}
			return res(true, "unregistered")
		},
		"redirect.addServer": func(p []any) any {
			name, _ := str(p, 0)
			u, _ := str(p, 1)
			if !serverNameRE.MatchString(name) {
				return res(false, "Error:Invalid server name")
			}
			d.mu.Lock()
			y.servers[name] = u
			d.mu.Unlock()
			return res(true, "OK")
		},
	}
	d = newDouble(xmlrpcHandler(&d, path, user, pass, methods), plain429)
	y.Double = d
	return y
}

var serverNameRE = regexp.MustCompile(`^[A-Za-z0-9 ._-]{1,64}$`)

// AddServer defines a server, as done beforehand in the vendor's web GUI.
func (y *Yealink) AddServer(name, url string) {
	y.mu.Lock()
	y.servers[name] = url
	y.mu.Unlock()
}

// ---- Fanvil FDPS ----

// Fanvil is the FDPS service: HTTP Basic whose password is
// hex(md5(hex(md5(password)))); a material server per MAC holds the URL.
type Fanvil struct {
	*Double
	material map[string]string
}

// NewFanvil starts an FDPS double for user and the clear-text password.
func NewFanvil(user, password string) *Fanvil {
	f := &Fanvil{material: map[string]string{}}
	var d *Double
	a := md5.Sum([]byte(password))
	b := md5.Sum([]byte(hex.EncodeToString(a[:])))
	res := func(ok bool, msg string) any { return []any{ok, xmlrpc.Untyped(msg)} }
	methods := map[string]rpcMethod{
		// The shape of the list is UNVERIFIED: structs {serverName|name, url}
		// and [name, url] pairs are both accepted.
		"redirect.addMaterialServer": func(p []any) any {
			list, _ := firstList(p)
			if len(list) == 0 {
				return res(false, "Error:no server")
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, e := range list {
				var name, u string
				switch x := e.(type) {
				case map[string]any:
					name, _ = x["serverName"].(string)
					if name == "" {
						name, _ = x["name"].(string)
					}
					u, _ = x["url"].(string)
				case []any:
					name, _ = str(x, 0)
					u, _ = str(x, 1)
				}
				if name == "" || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
					return res(false, "Error:Invalid server")
				}
				f.material[name] = u
			}
			return res(true, "OK")
		},
		"redirect.registerDevice": func(p []any) any {
			mac, _ := str(p, 0)
			server, _ := str(p, 1)
			m := norm(mac)
			d.mu.Lock()
			defer d.mu.Unlock()
			switch {
			case m == "":
				return res(false, "Error:Invalid MAC(s):"+mac)
			case f.material[server] == "":
				return res(false, "Error:Invalid server")
			case d.owned[m]:
				return res(false, "Error:MAC "+m+" has been registered by another user")
			}
			d.devices[m] = f.material[server]
			return res(true, "OK")
		},
		"redirect.deRegisterDevice": func(p []any) any {
			mac, _ := str(p, 0)
			m := norm(mac)
			d.mu.Lock()
			defer d.mu.Unlock()
			if _, ok := d.devices[m]; !ok {
				return res(false, "Error:Invalid MAC(s):"+mac)
			}
			delete(d.devices, m)
			return res(true, "OK")
		},
		"system.listMethods": func([]any) any {
			return []any{"redirect.addMaterialServer", "redirect.registerDevice", "redirect.deRegisterDevice"}
		},
	}
	d = newDouble(xmlrpcHandler(&d, "/xmlrpc.php", user, hex.EncodeToString(b[:]), methods), plain429)
	f.Double = d
	return f
}

func firstList(p []any) ([]any, bool) {
	if len(p) == 0 {
		return nil, false
	}
	l, ok := p[0].([]any)
	return l, ok
}

// ---- Gigaset autoprov ----

// Gigaset is the autoprov service: devices are named "MAC-CODE", CODE being
// the 4 characters printed after the MAC on the label. The answer shape and
// the deregistration method are UNVERIFIED; the double answers [boolean, string].
type Gigaset struct {
	*Double
	codes map[string]string
}

// NewGigaset starts an autoprov double at /apxml/rpc.do.
func NewGigaset(user, pass string) *Gigaset {
	g := &Gigaset{codes: map[string]string{}}
	var d *Double
	res := func(ok bool, msg string) any { return []any{ok, msg} }
	parse := func(id string) (string, string) {
		mac, code, ok := strings.Cut(id, "-")
		if !ok || norm(mac) == "" || len(mac) != 12 || !regexp.MustCompile(`^[0-9A-Z]{4}$`).MatchString(code) {
			return "", ""
		}
		return norm(mac), code
	}
	methods := map[string]rpcMethod{
		"autoprov.registerDevice": func(p []any) any {
			id, _ := str(p, 0)
			u, _ := str(p, 1)
			m, code := parse(id)
			d.mu.Lock()
			defer d.mu.Unlock()
			switch {
			case m == "" || (g.codes[m] != "" && g.codes[m] != code):
				return res(false, "invalid MAC-CRC "+id)
			case d.owned[m]:
				return res(false, "device owned by another provider")
			case !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")):
				return res(false, "invalid url")
			}
			d.devices[m] = u
			return res(true, "OK")
		},
		"autoprov.deregisterDevice": func(p []any) any {
			id, _ := str(p, 0)
			m, _ := parse(id)
			d.mu.Lock()
			defer d.mu.Unlock()
			if _, ok := d.devices[m]; !ok {
				return res(false, "device not registered")
			}
			delete(d.devices, m)
			return res(true, "OK")
		},
	}
	d = newDouble(xmlrpcHandler(&d, "/apxml/rpc.do", user, pass, methods), plain429)
	g.Double = d
	return g
}

// SetCode records the label code of mac; registrations with another code fail.
func (g *Gigaset) SetCode(mac, code string) { g.mu.Lock(); g.codes[norm(mac)] = code; g.mu.Unlock() }
