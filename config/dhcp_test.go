package config

import (
	"strings"
	"testing"
	"time"
)

func TestDHCPSection(t *testing.T) {
	c := Default()
	if c.DHCP.Enabled || len(c.DHCP.Vendors) == 0 || c.DHCP.LeaseTime != 12*time.Hour {
		t.Fatalf("dhcp defaults: %+v", c.DHCP)
	}
	y := `
dhcp:
  enabled: true
  interface: eth1
  pool_start: 192.0.2.100
  pool_end: 192.0.2.150
  subnet_mask: 255.255.255.0
  lease_time: 2h
  router: 192.0.2.1
  dns: [192.0.2.1]
  reservations:
    - {mac: "00:15:65:00:00:01", ip: 192.0.2.20}
  vendors:
    - name: aastra
      vendor_class_regex: "^Aastra"
      options:
        option43: {2: "{url}"}
  default:
    option66: "{url}"
    option67: boot.cfg
`
	c = Default()
	if err := Parse([]byte(y), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	d := c.DHCP
	if !d.Enabled || d.LeaseTime != 2*time.Hour || len(d.Vendors) != 1 || d.Vendors[0].Options.Option43[2] != "{url}" ||
		d.Default.Option67 != "boot.cfg" || len(d.Reservations) != 1 || d.Port != 67 {
		t.Errorf("parsed %+v", d)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"dhcp:\n  enabled: true\n", "key dhcp.interface"},
		{"dhcp:\n  lease_tme: 1h\n", "unknown key dhcp.lease_tme"},
		{"dhcp:\n  vendors:\n    - {name: x, vendor_clas: y}\n", "unknown key vendor_clas"},
		{"dhcp:\n  vendors:\n    - name: x\n      vendor_class: y\n      options: {option666: z}\n", "unknown key option666"},
		{"dhcp:\n  reservations:\n    - {mac: aabbccddeeff, addr: 1.2.3.4}\n", "unknown key addr"},
		{"dhcp:\n  vendors:\n    - {name: x}\n", "key dhcp.vendors[0].vendor_class"},
		{"dhcp:\n  default: {option66: \"{nope}\"}\n", "key dhcp.default.option66"},
	} {
		c := Default()
		err := Parse([]byte(tc.yaml), &c)
		if err == nil {
			err = c.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.yaml, err, tc.want)
		}
	}
}
