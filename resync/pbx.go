package resync

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// contact is one registration the PBX holds (AMI PJSIPShowContacts).
type contact struct {
	Endpoint string
	URI      string
	Status   string // Reachable, Unreachable, NonQualified, Unknown
}

// readContacts lists the PBX's registered contacts by endpoint. PJSIPNotify
// to an endpoint without one still answers "NOTIFY sent" (Asterisk 20), so
// this is how a device is known to be registered before anything is sent.
func readContacts(ctx context.Context, c *ami.Conn) (map[string][]contact, error) {
	resp, list, err := c.ActionList(ctx, ami.NewMessage("Action", "PJSIPShowContacts"))
	if err != nil {
		return nil, err
	}
	out := map[string][]contact{}
	if !strings.EqualFold(resp.Get("Response"), "Success") {
		// No contact at all is an error answer, not an empty list.
		if strings.Contains(strings.ToLower(resp.Get("Message")), "no contacts") {
			return out, nil
		}
		return nil, fmt.Errorf("PJSIPShowContacts: %s", resp.Get("Message"))
	}
	for _, m := range list {
		if m.Event() != "ContactList" || m.Get("Uri") == "" {
			continue
		}
		ep := m.Get("Endpoint")
		if ep == "" {
			// The AOR's name leads the contact's id ("201;@hash"); FreePBX names
			// endpoint and AOR alike.
			ep, _, _ = strings.Cut(m.Get("ObjectName"), ";")
		}
		out[ep] = append(out[ep], contact{Endpoint: ep, URI: m.Get("Uri"), Status: m.Get("Status")})
	}
	return out, nil
}

// pjsipNotify has the PBX send an out-of-dialog NOTIFY with the event to
// every contact of the endpoint.
func pjsipNotify(ctx context.Context, c *ami.Conn, endpoint, event string) error {
	resp, err := c.Action(ctx, ami.NewMessage("Action", "PJSIPNotify", "Endpoint", endpoint, "Variable", "Event="+event))
	if err != nil {
		return err
	}
	if !strings.EqualFold(resp.Get("Response"), "Success") {
		return fmt.Errorf("%s", resp.Get("Message"))
	}
	return nil
}
