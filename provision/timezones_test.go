package provision

// Each vendor's clock settings for four zones: one with European daylight
// saving, one with American, a half-hour zone without daylight saving and UTC,
// as the vendors' own notations write them (wazo-provd's plugins and Tancredi's
// tables are the references; Snom and Gigaset have no "UTC").

import (
	"strings"
	"testing"
	"time"
)

var zoneWant = map[string]map[string][]string{
	"yealink-device": {
		"Europe/Rome":      {"local_time.time_zone = +1\nlocal_time.summer_time = 1\nlocal_time.dst_time_type = 1\nlocal_time.start_time = 3/5/7/2\nlocal_time.end_time = 10/5/7/3\nlocal_time.offset_time = 60\n"},
		"America/New_York": {"local_time.time_zone = -5\nlocal_time.summer_time = 1\nlocal_time.dst_time_type = 1\nlocal_time.start_time = 3/2/7/2\nlocal_time.end_time = 11/1/7/2\nlocal_time.offset_time = 60\n"},
		"Asia/Kolkata":     {"local_time.time_zone = +5:30\nlocal_time.summer_time = 0\n"},
		"UTC":              {"local_time.time_zone = 0\nlocal_time.summer_time = 0\n"},
	},
	"akuvox-device": {
		"Europe/Rome":      {"Config.Settings.SNTP.TimeZone = +1\nConfig.Settings.SNTP.Name = Italy(Rome)\nConfig.Settings.SNTP.DTS = 2\n"},
		"America/New_York": {"Config.Settings.SNTP.TimeZone = -5\nConfig.Settings.SNTP.Name = United States-Eastern Time\nConfig.Settings.SNTP.DTS = 2\n"},
		"Asia/Kolkata":     {"Config.Settings.SNTP.TimeZone = +5:30\nConfig.Settings.SNTP.Name = \nConfig.Settings.SNTP.DTS = 0\n"},
		"UTC":              {"Config.Settings.SNTP.TimeZone = 0\nConfig.Settings.SNTP.Name = \nConfig.Settings.SNTP.DTS = 0\n"},
	},
	"snom-device": {
		"Europe/Rome":      {`<timezone perm="R">ITA+1</timezone>`},
		"America/New_York": {`<timezone perm="R">USA-5</timezone>`},
		"Asia/Kolkata":     {`<timezone perm="R">IND+5.5</timezone>`},
		"UTC":              {`<timezone perm="R">GBR-0</timezone>`},
	},
	"fanvil-device": {
		"Europe/Rome": {"<TimeZone>4</TimeZone>\n      <TimeZoneName>UTC+1</TimeZoneName>\n      <EnableDST>2</EnableDST>",
			"<DSTStartMon>3</DSTStartMon>\n      <DSTStartHour>2</DSTStartHour>\n      <DSTStartWday>0</DSTStartWday>\n      <DSTStartWeek>-1</DSTStartWeek>",
			"<DSTEndMon>10</DSTEndMon>\n      <DSTEndHour>3</DSTEndHour>\n      <DSTEndWday>0</DSTEndWday>\n      <DSTEndWeek>-1</DSTEndWeek>"},
		"America/New_York": {"<TimeZone>-20</TimeZone>\n      <TimeZoneName>UTC-05</TimeZoneName>\n      <EnableDST>2</EnableDST>",
			"<DSTStartMon>3</DSTStartMon>\n      <DSTStartHour>2</DSTStartHour>\n      <DSTStartWday>0</DSTStartWday>\n      <DSTStartWeek>2</DSTStartWeek>",
			"<DSTEndMon>11</DSTEndMon>\n      <DSTEndHour>2</DSTEndHour>\n      <DSTEndWday>0</DSTEndWday>\n      <DSTEndWeek>1</DSTEndWeek>"},
		"Asia/Kolkata": {"<TimeZone>22</TimeZone>\n      <TimeZoneName>UTC+5:30</TimeZoneName>\n      <EnableDST>0</EnableDST>"},
		"UTC":          {"<TimeZone>0</TimeZone>\n      <TimeZoneName>UCT</TimeZoneName>\n      <EnableDST>0</EnableDST>"},
	},
	"grandstream-device": {
		"Europe/Rome":      {"<P64>CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00</P64>"},
		"America/New_York": {"<P64>EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00</P64>"},
		"Asia/Kolkata":     {"<P64>IST-5:30</P64>"},
		"UTC":              {"<P64>UTC0</P64>"},
	},
	"gigaset-device": {
		"Europe/Rome":      {`"DmGlobal.0.TimeZone" value="Europe/Rome"`},
		"America/New_York": {`"DmGlobal.0.TimeZone" value="America/New_York"`},
		// The list has no UTC+5:30 zone: the nearest below, Karachi (UTC+5).
		"Asia/Kolkata": {`"DmGlobal.0.TimeZone" value="Asia/Karachi"`},
		"UTC":          {`"DmGlobal.0.TimeZone" value="Greenwich"`},
	},
	"poly-device": {
		"Europe/Rome": {`tcpIpApp.sntp.gmtOffset="3600"`, `tcpIpApp.sntp.daylightSavings.enable="1"`,
			`start.month="3"` + "\n" + `  tcpIpApp.sntp.daylightSavings.start.time="2"` + "\n" + `  tcpIpApp.sntp.daylightSavings.start.dayOfWeek="1"` + "\n" + `  tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth="1"`,
			`stop.month="10"` + "\n" + `  tcpIpApp.sntp.daylightSavings.stop.time="3"` + "\n" + `  tcpIpApp.sntp.daylightSavings.stop.dayOfWeek="1"` + "\n" + `  tcpIpApp.sntp.daylightSavings.stop.dayOfWeek.lastInMonth="1"`},
		"America/New_York": {`tcpIpApp.sntp.gmtOffset="-18000"`, `tcpIpApp.sntp.daylightSavings.enable="1"`,
			`start.dayOfWeek.lastInMonth="0"` + "\n" + `  tcpIpApp.sntp.daylightSavings.start.date="8"`,
			`stop.month="11"` + "\n" + `  tcpIpApp.sntp.daylightSavings.stop.time="2"`, `stop.dayOfWeek.lastInMonth="0"` + "\n" + `  tcpIpApp.sntp.daylightSavings.stop.date="1"`},
		"Asia/Kolkata": {`tcpIpApp.sntp.gmtOffset="19800"` + "\n" + `  tcpIpApp.sntp.daylightSavings.enable="0"`},
		"UTC":          {`tcpIpApp.sntp.gmtOffset="0"` + "\n" + `  tcpIpApp.sntp.daylightSavings.enable="0"`},
	},
	"cisco-device": {
		"Europe/Rome": {`<Time_Zone ua="na">GMT+01:00</Time_Zone>`,
			`<Daylight_Saving_Time_Rule ua="na">start=3/-1/7/2:0:0;end=10/-1/7/3:0:0;save=1</Daylight_Saving_Time_Rule>`},
		"America/New_York": {`<Time_Zone ua="na">GMT-05:00</Time_Zone>`,
			`<Daylight_Saving_Time_Rule ua="na">start=3/8/7/2:0:0;end=11/1/7/2:0:0;save=1</Daylight_Saving_Time_Rule>`},
		"Asia/Kolkata": {`<Time_Zone ua="na">GMT+05:30</Time_Zone>` + "\n  " + `<Daylight_Saving_Time_Enable ua="na">no</Daylight_Saving_Time_Enable>`},
		"UTC":          {`<Time_Zone ua="na">GMT+00:00</Time_Zone>` + "\n  " + `<Daylight_Saving_Time_Enable ua="na">no</Daylight_Saving_Time_Enable>`},
	},
}

func TestVendorTimeZones(t *testing.T) {
	c := loadBuiltin(t)
	tmpls := map[string]Template{}
	for _, tp := range c.Templates {
		tmpls[tp.ID] = tp
	}
	// Every device template family is covered: the DECT variants share their
	// vendor's clock lines, checked alike.
	alias := map[string]string{"yealink-dect": "yealink-device", "yealink-dect-multicell": "yealink-device", "snom-dect": "snom-device"}
	for _, tp := range c.Templates {
		if tp.Scope != ScopeDevice {
			continue
		}
		spec := tp.ID
		if a, ok := alias[spec]; ok {
			spec = a
		}
		want, ok := zoneWant[spec]
		if !ok {
			t.Errorf("template %s: no time-zone expectations", tp.ID)
			continue
		}
		comp, err := Compile(tp.Body, KnownFor(ScopeDevice, nil))
		if err != nil {
			t.Fatal(err)
		}
		for zone, wants := range want {
			p := DefaultPBXSettings()
			p.TimeZone = zone
			vars := pbxOnlyFrom(p)
			out := string(comp.Append(nil, vars, tp.Escape))
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("%s, %s: output lacks\n%s\n---\n%s", tp.ID, zone, w, out)
				}
			}
			if strings.Contains(zone, "/") && strings.Contains(out, zone) && spec != "gigaset-device" {
				t.Errorf("%s, %s: the IANA name reached the file", tp.ID, zone)
			}
		}
	}
}

// TestZoneRules: the rules read from the zone database for zones of both
// hemispheres and of several kinds of rule.
func TestZoneRules(t *testing.T) {
	for _, c := range []struct {
		zone  string
		posix string
		snom  string
	}{
		{"Europe/Rome", "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00", "ITA+1"},
		{"Europe/London", "GMT0BST-1,M3.5.0/01:00:00,M10.5.0/02:00:00", "GBR-0"},
		{"America/New_York", "EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00", "USA-5"},
		{"America/St_Johns", "NST3:30NDT2:30,M3.2.0/02:00:00,M11.1.0/02:00:00", "CAN-3.5"},
		{"Australia/Adelaide", "ACST-9:30ACDT-10:30,M10.1.0/02:00:00,M4.1.0/03:00:00", "AUS+9.5"},
		{"Asia/Kolkata", "IST-5:30", "IND+5.5"},
		{"Asia/Tokyo", "JST-9", "JPN+9"},
		{"UTC", "UTC0", "GBR-0"},
	} {
		for _, year := range []int{2026, 2027, 2031} {
			v := map[string]string{}
			timeVars(v, c.zone, time.Date(year, 6, 1, 0, 0, 0, 0, time.UTC))
			if v["KPBX_TIMEZONE_POSIX"] != c.posix || v["KPBX_TIMEZONE_SNOM"] != c.snom {
				t.Errorf("%s in %d: %q %q, want %q %q", c.zone, year, v["KPBX_TIMEZONE_POSIX"], v["KPBX_TIMEZONE_SNOM"], c.posix, c.snom)
			}
		}
	}
	// A zone name outside the database falls back to UTC rather than failing.
	v := map[string]string{}
	timeVars(v, "Moon/Tranquility", time.Now())
	if v["KPBX_TIMEZONE_OFFSET_MINUTES"] != "0" || v["KPBX_DST"] != "" {
		t.Errorf("unknown zone: %v", v)
	}
}
