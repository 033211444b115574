package admin

import (
	"context"
	"encoding/json"
	"fmt"
)

// SaveHint says, after a template or model is saved, what other components
// would offer about it (resync: how many devices use it). kind is "template"
// or "model"; tenant is "" for the global catalog.
type SaveHint func(ctx context.Context, tenant, kind, id string) (any, error)

// SetSaveHint makes template and model saves answer with the object plus
// "resync": the hint's value (serve sets the resync component's count).
func (a *API) SetSaveHint(h SaveHint) {
	a.featureMu.Lock()
	defer a.featureMu.Unlock()
	a.saveHint = h
}

// hint is the save hint of a template or model, or nil without one (or when
// it fails: the save happens either way).
func (a *API) hint(ctx context.Context, tenant, kind, id string) any {
	a.featureMu.Lock()
	h := a.saveHint
	a.featureMu.Unlock()
	if h == nil {
		return nil
	}
	v, err := h(ctx, tenant, kind, id)
	if err != nil {
		a.log.Warn("save hint failed", "kind", kind, "id", id, "err", err)
		return nil
	}
	return v
}

// saveWithHint saves a template or model through save and answers it with
// the save hint as its "resync" key. For an existing object the hint is
// counted before the save: which devices use a template or are of a model
// does not change with the save, and counting them beside the re-render the
// save starts would add its memory to the re-render's peak (10,000 devices
// read while 10,000 files are rendered). A new object is counted after.
func (a *API) saveWithHint(ctx context.Context, tenant, kind, id string, save func() (any, string, error)) (any, error) {
	var hint any
	if id != "" {
		hint = a.hint(ctx, tenant, kind, id)
	}
	v, newID, err := save()
	if err != nil {
		return nil, err
	}
	if id == "" {
		hint = a.hint(ctx, tenant, kind, newID)
	}
	if hint == nil {
		return v, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("admin: encode saved %s: %w", kind, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("admin: decode saved %s: %w", kind, err)
	}
	m["resync"] = hint
	return m, nil
}
