package ha

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// KindHAAction records HA actions (pair, switch, unpair, disable) so they are audited.
const KindHAAction = "ha_action"

// Actions on the HA cluster, as the admin API names them (POST /api/v1/ha/<action>).
const (
	ActionPair          = "pair"           // on the coordinator, before pairing
	ActionSwitch        = "switch"         // on the active: hand the resource to the passive
	ActionTakeover      = "takeover"       // on the passive: ask the active to hand it over
	ActionUnpair        = "unpair"         // on the passive: leave the cluster
	ActionUnpairPassive = "unpair-passive" // on the active: detach the passive
	ActionDisable       = "disable"        // on the active (either works): HA off on both nodes
)

// actions are what this node offers now, given its status.
func actions(s Status) []string {
	switch {
	case s.Left != "" || !s.Enabled:
		return []string{}
	case s.Pairing == "waiting" && s.State == StateCoordinator:
		return []string{ActionPair}
	case s.Pairing != "paired":
		return []string{}
	case s.Role == RoleActive.String():
		return []string{ActionSwitch, ActionUnpairPassive, ActionDisable}
	case s.Role == RolePassive.String():
		return []string{ActionTakeover, ActionUnpair}
	}
	return []string{}
}

// statusView is Status with the actions this node offers.
type statusView struct {
	Status
	Actions []string `json:"actions"`
}

func (s *Service) view() statusView {
	st := s.Status()
	return statusView{st, actions(st)}
}

// may lets admins manage HA, the tenant admin too on a single-tenant box (it is
// the box's only administrator there), and auditors read.
func (s *Service) may(p httpapi.Principal, write bool) error {
	switch {
	case p.IsAdmin():
		return nil
	case p.Role == httpapi.RoleTenantAdmin && s.singleTenant:
		return nil
	case p.Role == httpapi.RoleAuditor && !write:
		return nil
	case !p.CanWrite():
		return httpapi.ErrForbiddenWrite
	}
	return httpapi.Errorf(http.StatusForbidden, "", "HA is managed by an admin (or by the tenant admin of a single-tenant box)")
}

// configView is GET /api/v1/ha/config.
type configView struct {
	Settings Settings `json:"settings"`
	// Saved: the settings were saved through the API (else the configuration file's).
	Saved      bool        `json:"saved"`
	Serial     string      `json:"serial"`
	Interfaces []Interface `json:"interfaces"`
}

// Routes adds GET /api/v1/ha (status and the actions offered here), GET and PUT
// /api/v1/ha/config (this node's settings; PUT saves and starts) and the actions
// POST /api/v1/ha/{pair,switch,takeover,unpair,unpair-passive,disable}, each
// audited as an ha_action object.
func (s *Service) Routes(rt component.Router) {
	rt.Admin("GET /api/v1/ha", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if err := s.may(p, false); err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, s.view())
		return nil
	})
	rt.Admin("GET /api/v1/ha/config", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if err := s.may(p, false); err != nil {
			return err
		}
		set, saved := s.Settings()
		ifs, err := Interfaces()
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, configView{Settings: set, Saved: saved, Serial: s.Serial(), Interfaces: ifs})
		return nil
	})
	rt.Admin("PUT /api/v1/ha/config", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if err := s.may(p, true); err != nil {
			return err
		}
		var set Settings
		if err := httpapi.Decode(r, &set); err != nil {
			return err
		}
		if err := s.SaveAndStart(r.Context(), p.Actor(), set); err != nil {
			return err
		}
		saved, _ := s.Settings()
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"settings": saved, "status": s.view()})
		return nil
	})
	type body struct {
		Serial string `json:"serial"`
	}
	action := func(name string, do func(ctx context.Context, n *Node, b body) error) {
		rt.Admin("POST /api/v1/ha/"+name, func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
			if err := s.may(p, true); err != nil {
				return err
			}
			var b body
			if r.ContentLength != 0 {
				if err := httpapi.Decode(r, &b); err != nil {
					return err
				}
			}
			n := s.current()
			if n == nil {
				return httpapi.Errorf(http.StatusConflict, "", "%s", errNotRunning.Error())
			}
			audit := func() error {
				_, err := s.st.Update(r.Context(), p.Actor(), func(tx *store.Tx) error {
					doc := map[string]string{"action": name, "node": n.cfg.Serial, "at": time.Now().UTC().Format(time.RFC3339Nano)}
					if b.Serial != "" {
						doc["secondary"] = b.Serial
					}
					return tx.Create(KindHAAction, "", strconv.FormatInt(time.Now().UnixNano(), 10), doc, "ha "+name)
				})
				return err
			}
			// The audit row goes where the store accepts writes: before the action
			// when it does (an active node, a coordinator not paired yet), else after
			// it (a passive node: taking over makes it active, leaving turns HA off).
			audited := audit()
			var ro *store.ReadOnlyError
			if audited != nil && !errors.As(audited, &ro) {
				return audited
			}
			if err := do(r.Context(), n, b); err != nil {
				n.log.Warn("ha action failed", "action", name, "user", p.User, "src", p.IP, "err", err)
				return httpapi.Errorf(http.StatusConflict, fieldOf(name), "%s", err.Error())
			}
			if audited != nil {
				if err := audit(); err != nil {
					return err
				}
			}
			n.log.Info("ha action", "action", name, "user", p.User, "src", p.IP)
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"action": name, "status": s.view()})
			return nil
		})
	}
	action(ActionPair, func(ctx context.Context, n *Node, b body) error {
		serial := strings.TrimSpace(b.Serial)
		if serial == "" {
			serial = n.cfg.RemoteSerial
		}
		return n.Pair(ctx, serial)
	})
	action(ActionSwitch, func(ctx context.Context, n *Node, _ body) error {
		if !n.IsActive() {
			return errors.New("switch on the active node (on the passive node: takeover)")
		}
		return n.Switch(ctx)
	})
	action(ActionTakeover, func(ctx context.Context, n *Node, _ body) error { return n.Takeover(ctx) })
	action(ActionUnpair, func(_ context.Context, n *Node, _ body) error {
		if n.IsActive() {
			return errors.New("unpair from the passive node (on the active node: unpair-passive); the active one keeps the resource")
		}
		return n.Leave(LeftUnpaired)
	})
	action(ActionUnpairPassive, func(_ context.Context, n *Node, _ body) error {
		if !n.IsActive() {
			return errors.New("unpair-passive on the active node (on the passive node: unpair)")
		}
		return n.Leave(LeftUnpaired)
	})
	action(ActionDisable, func(_ context.Context, n *Node, _ body) error { return n.Leave(LeftDisabled) })
}

// fieldOf is the request field an action's failure is about.
func fieldOf(action string) string {
	if action == ActionPair {
		return "serial"
	}
	return ""
}
