package dhcp

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The config loader names unknown keys of sections, but list items (vendors,
// reservations) are decoded by yaml.v3, which ignores unknown keys. A misspelt
// "vendor_clas" would silently make a rule match nothing, so these types refuse
// keys they do not have.

// UnmarshalYAML decodes a vendor rule, refusing unknown keys.
func (r *VendorRule) UnmarshalYAML(n *yaml.Node) error {
	type plain VendorRule
	return strictDecode(n, (*plain)(r))
}

// UnmarshalYAML decodes provisioning options, refusing unknown keys.
func (o *Options) UnmarshalYAML(n *yaml.Node) error {
	type plain Options
	return strictDecode(n, (*plain)(o))
}

// UnmarshalYAML decodes a reservation, refusing unknown keys.
func (r *Reservation) UnmarshalYAML(n *yaml.Node) error {
	type plain Reservation
	return strictDecode(n, (*plain)(r))
}

func strictDecode(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of keys", n.Line)
	}
	t := reflect.TypeOf(v).Elem()
	known := map[string]bool{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			known[tag] = true
			names = append(names, tag)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return fmt.Errorf("line %d: unknown key %s (known: %s)", k.Line, k.Value, strings.Join(names, ", "))
		}
	}
	return n.Decode(v)
}
