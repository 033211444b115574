package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// HACluster is what the HA routes need of the ha package's Node.
type HACluster interface {
	StatusJSON() any
	IsActive() bool
	Switch(ctx context.Context) error
	Leave(reason string) error
	PairWith(ctx context.Context, serial string) error
}

// KindHAAction records HA actions (switch, unpair, disable) so they are audited.
const KindHAAction = "ha_action"

// MountHA adds GET /api/v1/ha and the actions POST /api/v1/ha/{switch,unpair,disable}.
func (a *API) MountHA(c HACluster) {
	a.st.Register(store.Kind{Name: KindHAAction})
	a.Mount("GET /api/v1/ha", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		writeJSON(w, http.StatusOK, c.StatusJSON())
		return nil
	})
	action := func(name string, do func(ctx context.Context) error, auditFirst bool) {
		a.Mount("POST /api/v1/ha/"+name, func(w http.ResponseWriter, r *http.Request, p Principal) error {
			if p.Role != RoleAdmin || p.Tenant != "" {
				return errAdminOnly
			}
			audit := func() error {
				id := strconv.FormatInt(time.Now().UnixNano(), 10)
				_, err := a.st.Update(r.Context(), p.Actor(), func(tx *store.Tx) error {
					return tx.Create(KindHAAction, "", id, map[string]string{"action": name, "at": time.Now().UTC().Format(time.RFC3339Nano)}, "ha "+name)
				})
				return err
			}
			// The audit row goes where the store accepts writes: before a switch
			// (this node is still active), after unpair/disable (HA is off here).
			if auditFirst {
				if err := audit(); err != nil {
					return err
				}
			}
			if err := do(r.Context()); err != nil {
				return errStatus(http.StatusConflict, "", "%s", err.Error())
			}
			if !auditFirst {
				if err := audit(); err != nil {
					return err
				}
			}
			a.log.Info("ha action", "action", name, "user", p.User, "ip", p.IP)
			writeJSON(w, http.StatusOK, map[string]any{"action": name, "status": c.StatusJSON()})
			return nil
		})
	}
	action("switch", func(ctx context.Context) error {
		if !c.IsActive() {
			return fmt.Errorf("ha: switch on the active node")
		}
		return c.Switch(ctx)
	}, true)
	a.Mount("POST /api/v1/ha/pair", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if p.Role != RoleAdmin || p.Tenant != "" {
			return errAdminOnly
		}
		var body struct {
			Serial string `json:"serial"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || strings.TrimSpace(body.Serial) == "" {
			return errStatus(http.StatusBadRequest, "serial", "give the secondary's serial number: {\"serial\": \"...\"}")
		}
		// Audited before it runs: once paired, this node is in its init wait and
		// refuses writes until the election settles.
		if _, err := a.st.Update(r.Context(), p.Actor(), func(tx *store.Tx) error {
			return tx.Create(KindHAAction, "", strconv.FormatInt(time.Now().UnixNano(), 10),
				map[string]string{"action": "pair", "secondary": body.Serial}, "ha pair requested")
		}); err != nil {
			return err
		}
		if err := c.PairWith(r.Context(), body.Serial); err != nil {
			a.log.Warn("ha pairing failed", "user", p.User, "ip", p.IP, "err", err)
			return errStatus(http.StatusConflict, "serial", "%s", err.Error())
		}
		writeJSON(w, http.StatusOK, map[string]any{"action": "pair", "status": c.StatusJSON()})
		return nil
	})
	action("unpair", func(context.Context) error { return c.Leave("unpaired") }, false)
	action("disable", func(context.Context) error { return c.Leave("disabled") }, false)
}
