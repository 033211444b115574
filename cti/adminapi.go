package cti

import (
	"context"
	"errors"
	"net/http"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/socketio"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// adminRoutes adds /api/v1/cti/... to the admin API: users, profiles (every
// change audited through the store), reload and dump. CTI users are global, so
// tenant administrators get 403.
func (svc *Service) adminRoutes(mount func(pattern string, h httpapi.Handler)) {
	type h = httpapi.Handler
	guard := func(f h) h {
		return func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
			if p.Role == httpapi.RoleTenantAdmin {
				httpapi.WriteError(w, http.StatusForbidden, "", "CTI users and profiles are global: only an admin may manage them")
				return nil
			}
			// Answer what has an answer here, so the router sees only faults.
			err := f(w, r, p)
			if status, field, msg, ok := httpapi.Status(err); ok {
				httpapi.WriteError(w, status, field, msg)
				return nil
			}
			if errors.Is(err, ami.ErrDown) {
				httpapi.WriteError(w, http.StatusServiceUnavailable, "", err.Error())
				return nil
			}
			return err
		}
	}
	mount("GET /api/v1/cti/users", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		httpapi.WriteJSON(w, http.StatusOK, svc.dir.Users())
		return nil
	}))
	mount("POST /api/v1/cti/users", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		var in userInput
		if err := httpapi.Decode(r, &in); err != nil {
			return err
		}
		u, err := svc.dir.CreateUser(r.Context(), p.Actor(), in)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusCreated, u)
		return nil
	}))
	mount("GET /api/v1/cti/users/{name}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		u, _, ok := svc.dir.Resolve(r.PathValue("name"))
		if !ok || u.Username != r.PathValue("name") {
			return store.ErrNotFound
		}
		httpapi.WriteJSON(w, http.StatusOK, u.view())
		return nil
	}))
	mount("PATCH /api/v1/cti/users/{name}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		var in userInput
		if err := httpapi.Decode(r, &in); err != nil {
			return err
		}
		name := r.PathValue("name")
		u, err := svc.dir.UpdateUser(r.Context(), p.Actor(), name, in)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, u)
		return nil
	}))
	mount("DELETE /api/v1/cti/users/{name}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		name := r.PathValue("name")
		if err := svc.dir.DeleteUser(r.Context(), p.Actor(), name); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mount("GET /api/v1/cti/profiles", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		httpapi.WriteJSON(w, http.StatusOK, svc.dir.Profiles())
		return nil
	}))
	mount("GET /api/v1/cti/profiles/{id}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		for _, pr := range svc.dir.Profiles() {
			if pr.ID == r.PathValue("id") {
				httpapi.WriteJSON(w, http.StatusOK, pr)
				return nil
			}
		}
		return store.ErrNotFound
	}))
	mount("PUT /api/v1/cti/profiles/{id}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		var pr Profile
		if err := httpapi.Decode(r, &pr); err != nil {
			return err
		}
		if pr.ID != "" && pr.ID != r.PathValue("id") {
			return &store.ValidationError{Field: "id", Msg: "id in the body differs from the URL"}
		}
		pr.ID = r.PathValue("id")
		out, err := svc.dir.PutProfile(r.Context(), p.Actor(), pr)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
		return nil
	}))
	mount("DELETE /api/v1/cti/profiles/{id}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if err := svc.dir.DeleteProfile(r.Context(), p.Actor(), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mount("POST /api/v1/cti/reload", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if !svc.cfg.Enabled {
			return rerr(http.StatusConflict, "", "cti is not enabled (cti.enabled in the configuration)")
		}
		if err := svc.reloadAll(r.Context()); err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"message": "reloaded", "users": len(svc.dir.Users())})
		return nil
	}))
	mount("GET /api/v1/cti/dump", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		httpapi.WriteJSON(w, http.StatusOK, svc.dump())
		return nil
	}))
}

// reloadAll re-reads users and the PBX's state, then tells every logged-in
// client with serverReloaded (no payload), as nethcti does after a reload:
// phone-island re-reads what it shows.
func (svc *Service) reloadAll(ctx context.Context) error {
	if err := svc.resyncAll(ctx); err != nil {
		return err
	}
	f, err := socketio.EncodeArgs("serverReloaded")
	if err != nil {
		return err
	}
	svc.sio.Each(func(s *socketio.Socket) {
		if _, ok := s.Value().(socketLogin); ok {
			s.Send(f)
		}
	})
	return nil
}
