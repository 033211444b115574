package ha

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// KindHAAction records HA actions (switch, unpair, disable) so they are audited.
const KindHAAction = "ha_action"

// Routes adds GET /api/v1/ha and the actions POST /api/v1/ha/{pair,switch,unpair,disable}
// (admins only; each action is audited as an ha_action object).
func (n *Node) Routes(rt component.Router) {
	st := n.st
	rt.Admin("GET /api/v1/ha", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		httpapi.WriteJSON(w, http.StatusOK, n.Status())
		return nil
	})
	action := func(name string, do func(ctx context.Context) error, auditFirst bool) {
		rt.Admin("POST /api/v1/ha/"+name, func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
			if !p.IsAdmin() {
				return httpapi.ErrAdminOnly
			}
			audit := func() error {
				id := strconv.FormatInt(time.Now().UnixNano(), 10)
				_, err := st.Update(r.Context(), p.Actor(), func(tx *store.Tx) error {
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
				return httpapi.Errorf(http.StatusConflict, "", "%s", err.Error())
			}
			if !auditFirst {
				if err := audit(); err != nil {
					return err
				}
			}
			n.log.Info("ha action", "action", name, "user", p.User, "ip", p.IP)
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"action": name, "status": n.Status()})
			return nil
		})
	}
	action("switch", func(ctx context.Context) error {
		if !n.IsActive() {
			return errors.New("switch on the active node")
		}
		return n.Switch(ctx)
	}, true)
	rt.Admin("POST /api/v1/ha/pair", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if !p.IsAdmin() {
			return httpapi.ErrAdminOnly
		}
		var body struct {
			Serial string `json:"serial"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || strings.TrimSpace(body.Serial) == "" {
			return httpapi.Errorf(http.StatusBadRequest, "serial", "give the secondary's serial number: {\"serial\": \"...\"}")
		}
		// Audited before it runs: once paired, this node is in its init wait and
		// refuses writes until the election settles.
		if _, err := st.Update(r.Context(), p.Actor(), func(tx *store.Tx) error {
			return tx.Create(KindHAAction, "", strconv.FormatInt(time.Now().UnixNano(), 10),
				map[string]string{"action": "pair", "secondary": body.Serial}, "ha pair requested")
		}); err != nil {
			return err
		}
		if err := n.Pair(r.Context(), body.Serial); err != nil {
			n.log.Warn("ha pairing failed", "user", p.User, "ip", p.IP, "err", err)
			return httpapi.Errorf(http.StatusConflict, "serial", "%s", err.Error())
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"action": "pair", "status": n.Status()})
		return nil
	})
	action("unpair", func(context.Context) error { return n.Leave("unpaired") }, false)
	action("disable", func(context.Context) error { return n.Leave("disabled") }, false)
}
