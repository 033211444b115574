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

// withHint adds the save hint to a saved template or model, as the "resync"
// key of its JSON. Without a hint, or when it fails, v is answered as it is:
// the save happened either way.
func (a *API) withHint(ctx context.Context, tenant, kind, id string, v any) (any, error) {
	a.featureMu.Lock()
	h := a.saveHint
	a.featureMu.Unlock()
	if h == nil {
		return v, nil
	}
	hint, err := h(ctx, tenant, kind, id)
	if err != nil {
		a.log.Warn("save hint failed", "kind", kind, "id", id, "err", err)
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
