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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if d.PhoneUsername != "" {
		req.SetBasicAuth(d.PhoneUsername, d.PhonePassword)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cti: phone %s: %w", d.RemoteAddress, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("cti: phone %s answered %s", d.RemoteAddress, resp.Status)
	}
	return nil
}

func (p *httpPhones) Dial(ctx context.Context, id, number string) error {
	d, vendor, err := p.device(ctx, id)
	if err != nil {
		return err
	}
	n := url.QueryEscape(number)
	switch {
	case strings.Contains(vendor, "snom"):
		return p.get(ctx, d, "/command.htm?number="+n)
	case strings.Contains(vendor, "yealink"):
		return p.get(ctx, d, "/servlet?key=number="+n)
	case strings.Contains(vendor, "fanvil"):
		return p.get(ctx, d, "/cgi-bin/ConfigManApp.com?key=number="+n)
	}
	return errNoPhoneControl
}

func (p *httpPhones) Answer(ctx context.Context, id string) error {
	d, vendor, err := p.device(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case strings.Contains(vendor, "snom"):
		return p.get(ctx, d, "/command.htm?key=ENTER")
	case strings.Contains(vendor, "yealink"):
		return p.get(ctx, d, "/servlet?key=OK")
	case strings.Contains(vendor, "fanvil"):
		return p.get(ctx, d, "/cgi-bin/ConfigManApp.com?key=OK")
	}
	return errNoPhoneControl
}
