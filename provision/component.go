package provision

import (
	"context"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/store"
)

var _ component.Component = (*Service)(nil)

// Name is the renderer's component name.
func (s *Service) Name() string { return "render" }

// Commit marks what a commit touched for the renderer.
func (s *Service) Commit(c store.Commit) { s.render.onCommit(c.Rev, c.Changes, c.All) }

// ResolveTenant maps the {tenant} of an admin route to a tenant id: a UUID, or
// "default" for the single-tenant box's tenant; an unknown one is
// store.ErrNotFound.
func (s *Service) ResolveTenant(ctx context.Context, ref string) (string, error) {
	if ref == "default" {
		ref = s.DefaultTenant()
	}
	if _, err := s.Tenant(ctx, ref); err != nil {
		return "", err
	}
	return ref, nil
}
