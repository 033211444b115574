package cti

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// phoneDialer drives a provisioned desk phone over its own HTTP interface.
type phoneDialer interface {
	// Dial makes the phone of device call number; errNoPhoneControl when the
	// device has no remote-control address or an unknown vendor.
	Dial(ctx context.Context, device, number string) error
	// Answer picks up the ringing call.
	Answer(ctx context.Context, device string) error
	// Hold presses the phone's hold key (hold, or resume a held call).
	Hold(ctx context.Context, device string) error
	// Controls reports whether the device can be driven over HTTP.
	Controls(ctx context.Context, device string) bool
	// ActionURL is the URL that makes the phone do action ("call" number),
	// with its credentials, for NethLink to open from beside the phone.
	ActionURL(ctx context.Context, device, action, number string) (string, bool)
}

// errNoPhoneControl says the phone cannot be driven over HTTP; callers fall back
// to AMI Originate.
var errNoPhoneControl = errors.New("cti: the phone has no HTTP remote control")

// httpPhones uses the provisioned phone credentials and remote-control address.
// The action URLs follow the vendors' public documentation (Snom command.htm,
// Yealink action URI /servlet?key=, Fanvil /cgi-bin/ConfigManApp.com?key=); they
// are UNVERIFIED against real phones here, so errors are reported, never fatal.
type httpPhones struct {
	st  *store.Store
	log *slog.Logger
}

func (p *httpPhones) device(ctx context.Context, id string) (provision.Device, string, error) {
	var d provision.Device
	var model provision.Model
	err := p.st.View(ctx, func(tx *store.Tx) error {
		ok, err := tx.Get(provision.KindDevice, id, &d)
		if err != nil {
			return err
		}
		if !ok {
			return errNoPhoneControl
		}
		tx.Get(provision.KindModel, d.Model, &model) //nolint:errcheck // the vendor guess falls back to the model id
		return nil
	})
	if err != nil {
		return d, "", err
	}
	if d.RemoteAddress == "" {
		return d, "", errNoPhoneControl
	}
	return d, strings.ToLower(model.Brand + " " + d.Model), nil
}

func (p *httpPhones) get(ctx context.Context, d provision.Device, path string) error {
	port := d.RemotePort
	if port == 0 {
		port = 80
	}
	u := "http://" + net.JoinHostPort(d.RemoteAddress, strconv.Itoa(port)) + path
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil) //nolint:gosec // G704: the phone's remote-control address, set by an admin in the device record
	if err != nil {
		return err
	}
	if d.PhoneUsername != "" {
		req.SetBasicAuth(d.PhoneUsername, d.PhonePassword)
	}
	resp, err := http.DefaultClient.Do(req) //nolint:gosec // G704: the phone's remote-control address, set by an admin in the device record
	if err != nil {
		return fmt.Errorf("cti: phone %s: %w", d.RemoteAddress, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("cti: phone %s answered %s", d.RemoteAddress, resp.Status)
	}
	return nil
}

// vendorPaths are the action paths of each vendor's HTTP interface, by
// action; "%s" is the number.
var vendorPaths = map[string]map[string]string{
	"snom":    {"call": "/command.htm?number=%s", "answer": "/command.htm?key=ENTER", "hold": "/command.htm?key=F_HOLD"},
	"yealink": {"call": "/servlet?key=number=%s", "answer": "/servlet?key=OK", "hold": "/servlet?key=F_HOLD"},
	"fanvil":  {"call": "/cgi-bin/ConfigManApp.com?key=number=%s", "answer": "/cgi-bin/ConfigManApp.com?key=OK", "hold": "/cgi-bin/ConfigManApp.com?key=F_HOLD"},
}

func vendorOf(v string) string {
	for name := range vendorPaths {
		if strings.Contains(v, name) {
			return name
		}
	}
	return ""
}

// path is the action's path on device, or errNoPhoneControl.
func (p *httpPhones) path(ctx context.Context, id, action, number string) (provision.Device, string, error) {
	d, vendor, err := p.device(ctx, id)
	if err != nil {
		return d, "", err
	}
	tmpl := vendorPaths[vendorOf(vendor)][action]
	if tmpl == "" {
		return d, "", errNoPhoneControl
	}
	if strings.Contains(tmpl, "%s") {
		tmpl = fmt.Sprintf(tmpl, url.QueryEscape(number))
	}
	return d, tmpl, nil
}

func (p *httpPhones) do(ctx context.Context, id, action, number string) error {
	d, path, err := p.path(ctx, id, action, number)
	if err != nil {
		return err
	}
	return p.get(ctx, d, path)
}

func (p *httpPhones) Dial(ctx context.Context, id, number string) error {
	return p.do(ctx, id, "call", number)
}

func (p *httpPhones) Answer(ctx context.Context, id string) error { return p.do(ctx, id, "answer", "") }

func (p *httpPhones) Hold(ctx context.Context, id string) error { return p.do(ctx, id, "hold", "") }

func (p *httpPhones) Controls(ctx context.Context, id string) bool {
	_, _, err := p.path(ctx, id, "answer", "")
	return err == nil
}

func (p *httpPhones) ActionURL(ctx context.Context, id, action, number string) (string, bool) {
	d, path, err := p.path(ctx, id, action, number)
	if err != nil {
		return "", false
	}
	port := d.RemotePort
	if port == 0 {
		port = 80
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(d.RemoteAddress, strconv.Itoa(port))}
	if d.PhoneUsername != "" {
		u.User = url.UserPassword(d.PhoneUsername, d.PhonePassword)
	}
	return u.String() + path, true
}
