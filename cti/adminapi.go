package cti

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// MountAdmin adds /api/v1/cti/... to the admin API: users, profiles (every change
// audited through the store), reload and dump. CTI users are global, so tenant
// administrators get 403.
func (svc *Service) MountAdmin(api httpapi.AdminRouter) {
	type h = func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error
	guard := func(f h) h {
		return func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
			if p.Role == httpapi.RoleTenantAdmin {
				writeErr(w, http.StatusForbidden, "", "CTI users and profiles are global: only an admin may manage them")
				return nil
			}
			err := f(w, r, p)
			var re *restError
			if errors.As(err, &re) {
				writeErr(w, re.status, re.field, re.msg)
				return nil
			}
			if errors.Is(err, ErrAMIDown) {
				writeErr(w, http.StatusServiceUnavailable, "", err.Error())
				return nil
			}
			return err
		}
	}
	api.Admin("GET /api/v1/cti/users", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		writeJSON(w, http.StatusOK, svc.dir.Users())
		return nil
	}))
	api.Admin("POST /api/v1/cti/users", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		var in UserInput
		if err := strictJSON(r, &in); err != nil {
			return err
		}
		u, err := svc.dir.CreateUser(r.Context(), p.Actor(), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, u)
		return nil
	}))
	api.Admin("GET /api/v1/cti/users/{name}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		u, _, ok := svc.dir.Resolve(r.PathValue("name"))
		if !ok || u.Username != r.PathValue("name") {
			return store.ErrNotFound
		}
		writeJSON(w, http.StatusOK, u.view())
		return nil
	}))
	api.Admin("PATCH /api/v1/cti/users/{name}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		var in UserInput
		if err := strictJSON(r, &in); err != nil {
			return err
		}
		name := r.PathValue("name")
		u, err := svc.dir.UpdateUser(r.Context(), p.Actor(), name, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}))
	api.Admin("DELETE /api/v1/cti/users/{name}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		name := r.PathValue("name")
		if err := svc.dir.DeleteUser(r.Context(), p.Actor(), name); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	api.Admin("GET /api/v1/cti/profiles", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		writeJSON(w, http.StatusOK, svc.dir.Profiles())
		return nil
	}))
	api.Admin("GET /api/v1/cti/profiles/{id}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		for _, pr := range svc.dir.Profiles() {
			if pr.ID == r.PathValue("id") {
				writeJSON(w, http.StatusOK, pr)
				return nil
			}
		}
		return store.ErrNotFound
	}))
	api.Admin("PUT /api/v1/cti/profiles/{id}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		var pr Profile
		if err := strictJSON(r, &pr); err != nil {
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
		writeJSON(w, http.StatusOK, out)
		return nil
	}))
	api.Admin("DELETE /api/v1/cti/profiles/{id}", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if err := svc.dir.DeleteProfile(r.Context(), p.Actor(), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	api.Admin("POST /api/v1/cti/reload", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if !svc.cfg.Enabled {
			return rerr(http.StatusConflict, "", "cti is not enabled (cti.enabled in the configuration)")
		}
		if err := svc.Reload(r.Context()); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"message": "reloaded", "users": len(svc.dir.Users())})
		return nil
	}))
	api.Admin("GET /api/v1/cti/dump", guard(func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		writeJSON(w, http.StatusOK, svc.Dump())
		return nil
	}))
}

// strictJSON decodes one JSON object, refusing unknown fields (named in the error).
func strictJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return rerr(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	if len(body) > 1<<20 {
		return rerr(http.StatusRequestEntityTooLarge, "", "request body is larger than 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return rerr(http.StatusBadRequest, "", "request body is empty: expected a JSON object")
		case errors.As(err, &te):
			return rerr(http.StatusBadRequest, te.Field, "field %q must be %s", te.Field, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return rerr(http.StatusBadRequest, f, "unknown field %q", f)
		default:
			return rerr(http.StatusBadRequest, "", "bad JSON body: %v", err)
		}
	}
	if dec.More() {
		return rerr(http.StatusBadRequest, "", "request body has data after the JSON object")
	}
	return nil
}
