package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// ModelGuess is a model that fits what an unknown phone asked for, with how well.
type ModelGuess struct {
	Model string `json:"model"`
	Name  string `json:"name"`
	Brand string `json:"brand"`
	// Score: 1 the file name fits the model's rule, +2 the phone's User-Agent
	// names the model, +1 its MAC is in the brand's OUIs.
	Score int `json:"score"`
}

// UnknownView is an entry of the "seen, not configured" list with the models it
// could be, best first, so that adopting it rarely needs the model typed.
type UnknownView struct {
	store.UnknownDevice
	Models []ModelGuess `json:"models"`
}

// UnknownDevicesView is one page of UnknownDevices (limit -1: all) with model
// guesses, and how many phones the list holds.
func (s *Service) UnknownDevicesView(ctx context.Context, tenant string, limit, offset int) ([]UnknownView, int, error) {
	list, total, err := s.st.UnknownDevicesPage(ctx, tenant, time.Now().Add(-s.cfg.UnknownMaxAge), limit, offset)
	if err != nil {
		return nil, 0, err
	}
	var models map[string]Model
	if err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		models, _, err = s.catalogIn(tx, tenant)
		return err
	}); err != nil {
		return nil, 0, err
	}
	out := make([]UnknownView, len(list))
	for i, u := range list {
		out[i] = UnknownView{UnknownDevice: u, Models: s.guessModels(models, u)}
	}
	return out, total, nil
}

// squash keeps lower-case letters and digits: "SIP-T54W" and "t54w" compare equal.
func squash(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func (s *Service) guessModels(models map[string]Model, u store.UnknownDevice) []ModelGuess {
	mac, err := ParseMAC(u.MAC)
	if err != nil {
		return []ModelGuess{}
	}
	ua := squash(u.UserAgent)
	oui := strings.ToUpper(u.MAC[:6])
	out := []ModelGuess{}
	ouiOwned := false
	for _, m := range models {
		score := 0
		if u.File != "" && m.File.Name(mac) == u.File {
			score = 1
		}
		// The model's own name in the User-Agent ("Yealink SIP-T54W 96.86...",
		// "snomD785-SIP ..."); names of two characters or fewer say too little.
		if n := squash(m.Name); len(n) > 2 && strings.Contains(ua, n) {
			score += 2
		}
		if score == 0 {
			continue
		}
		g := ModelGuess{Model: m.ID, Name: m.Name, Brand: m.Brand, Score: score}
		if s.brandOwnsOUI(m.Brand, oui) {
			g.Score++
			ouiOwned = true
		}
		out = append(out, g)
	}
	if ouiOwned {
		// A Yealink MAC asking for "<mac>.cfg" is not a Fanvil, whose rule is the
		// same: once a brand claims the OUI, the others' models drop out. While no
		// brand claims it (an OUI the catalog lacks) every fitting model stays.
		kept := out[:0]
		for _, g := range out {
			if s.brandOwnsOUI(g.Brand, oui) {
				kept = append(kept, g)
			}
		}
		out = kept
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Model < out[j].Model
	})
	return out
}

func (s *Service) brandOwnsOUI(brand, oui string) bool {
	for _, b := range s.builtin.Brands {
		if b.ID == brand {
			for _, o := range b.OUIs {
				if strings.EqualFold(o, oui) {
					return true
				}
			}
		}
	}
	return false
}

// Adopt turns an entry of the "seen, not configured" list into a device. patch
// holds device fields; "account_extension" may name the account by extension,
// and without "model" the best guess is used when it is the only best one. The
// MAC must be on the list: adopting is not a back door around device creation.
func (s *Service) Adopt(ctx context.Context, actor store.Actor, tenant, macText string, patch json.RawMessage) (Device, error) {
	var d Device
	mac, err := ParseMAC(macText)
	if err != nil {
		return d, verr("mac", "%v", err)
	}
	fields := map[string]json.RawMessage{}
	if len(patch) > 0 && strings.TrimSpace(string(patch)) != "" {
		if err := json.Unmarshal(patch, &fields); err != nil {
			return d, verr("", "body must be a JSON object of device fields: %v", err)
		}
	}
	if _, ok := fields["mac"]; ok {
		return d, verr("mac", "the MAC is the one in the path")
	}
	_, err = s.st.Update(ctx, actor, func(tx *store.Tx) error {
		u, ok, err := tx.Unknown(tenant, mac.String())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s is not on the unknown-device list: %w", mac, store.ErrNotFound)
		}
		if raw, ok := fields["account_extension"]; ok {
			delete(fields, "account_extension")
			var ext string
			if err := json.Unmarshal(raw, &ext); err != nil {
				return verr("account_extension", "account_extension must be a string")
			}
			id := ""
			if err := listInto(tx, KindAccount, tenant, func(a Account) {
				if a.Extension == ext {
					id = a.ID
				}
			}); err != nil {
				return err
			}
			if id == "" {
				return verr("account_extension", "no account with extension %s", ext)
			}
			fields["account"], _ = json.Marshal(id)
		}
		if _, ok := fields["model"]; !ok {
			models, _, err := s.catalogIn(tx, tenant)
			if err != nil {
				return err
			}
			g := s.guessModels(models, u)
			switch {
			case len(g) == 0:
				return verr("model", "no model fits what %s asked for (%q); name the model", mac, u.File)
			case len(g) > 1 && g[1].Score == g[0].Score:
				var names []string
				for _, x := range g {
					if x.Score == g[0].Score {
						names = append(names, x.Model)
					}
				}
				return verr("model", "%d models fit %s equally (%s); name the model", len(names), mac, strings.Join(names, ", "))
			}
			fields["model"], _ = json.Marshal(g[0].Model)
		}
		fields["mac"], _ = json.Marshal(mac.String())
		body, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		d, err = s.saveDevice(tx, tenant, "", body)
		return err
	})
	return d, err
}
