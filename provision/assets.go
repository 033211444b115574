package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// KindAsset is the store kind of uploaded files (firmware, ring tones, logos).
const KindAsset = "asset"

// Asset is an uploaded file served as-is from a tenant's provisioning tree. Its
// bytes live on disk under their SHA-256, so a restore from the audit log brings
// back the exact file and a half-finished upload never replaces a good one.
type Asset struct {
	Name        string    `json:"name"`
	Tenant      string    `json:"tenant"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"`
	ModTime     time.Time `json:"modified"`
}

// Path is where the asset's bytes are.
func (s *Service) AssetPath(a *Asset) string {
	return filepath.Join(s.assets.dir, a.SHA256)
}

type assetStore struct {
	s   *Service
	dir string
}

func assetID(tenant, name string) string { return tenant + "/" + name }

// MaxAssetSize bounds an upload.
const MaxAssetSize = 512 << 20

// PutAsset stores an upload under name in tenant's tree.
func (s *Service) PutAsset(ctx context.Context, actor store.Actor, tenant, name string, body io.Reader) (Asset, error) {
	var a Asset
	if s.assets.dir == "" {
		return a, errors.New("provision: no asset directory configured")
	}
	if err := checkFileName(name, false); err != nil {
		return a, verr("name", "%v", err)
	}
	if err := os.MkdirAll(s.assets.dir, 0o750); err != nil {
		return a, fmt.Errorf("provision: asset directory: %w", err)
	}
	tmp, err := os.CreateTemp(s.assets.dir, ".upload-*")
	if err != nil {
		return a, fmt.Errorf("provision: upload: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone once renamed into place; a leftover dot file is never served
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(body, MaxAssetSize+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return a, fmt.Errorf("provision: upload: %w", err)
	}
	if n > MaxAssetSize {
		return a, verr("body", "upload is larger than %d MiB", MaxAssetSize>>20)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(s.assets.dir, sum)); err != nil {
		return a, fmt.Errorf("provision: upload: %w", err)
	}
	ct := mime.TypeByExtension(filepath.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	a = Asset{Name: name, Tenant: tenant, Size: n, SHA256: sum, ContentType: ct, ModTime: time.Now().UTC().Truncate(time.Second)}
	_, err = s.st.Update(ctx, actor, func(tx *store.Tx) error {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return orNotFound(err)
		}
		var old Asset
		ok, err := tx.Get(KindAsset, assetID(tenant, name), &old)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("asset %s uploaded (%d bytes, sha256 %s)", name, n, sum[:12])
		if ok {
			if old.SHA256 == sum {
				a = old
				return nil
			}
			return tx.Replace(KindAsset, tenant, assetID(tenant, name), a, desc)
		}
		return tx.Create(KindAsset, tenant, assetID(tenant, name), a, desc)
	})
	return a, err
}

// Assets lists a tenant's assets.
func (s *Service) Assets(ctx context.Context, tenant string) ([]Asset, error) {
	out := []Asset{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return listInto(tx, KindAsset, tenant, func(a Asset) { out = append(out, a) })
	})
	return out, err
}

// DeleteAsset removes an asset from the tree (its bytes stay for restores).
func (s *Service) DeleteAsset(ctx context.Context, actor store.Actor, tenant, name string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var a Asset
		ok, err := tx.Get(KindAsset, assetID(tenant, name), &a)
		if err != nil {
			return err
		}
		if !ok || a.Tenant != tenant {
			return store.ErrNotFound
		}
		if m, err := firmwareUser(tx, tenant, name); err != nil {
			return err
		} else if m != "" {
			return &store.ConflictError{Field: "name", Msg: fmt.Sprintf("%s is the target firmware of model %s: choose another firmware for the model first", name, s.modelName(tx, tenant, m))}
		}
		return tx.Delete(KindAsset, assetID(tenant, name), "asset "+name+" deleted")
	})
	return err
}

// AssetDir sets where uploads are kept (data_dir/assets).
func (s *Service) AssetDir(dir string) { s.assets.dir = strings.TrimRight(dir, "/") }
