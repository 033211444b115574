package provision

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Phones do not know IANA zones: each vendor wants an offset, daylight-saving
// rules in its own notation, or a name from its own list. The rules are read
// from the zone database (the running year's transitions), the names from the
// tables below; templates compose the vendors' notations from the KPBX_DST_*
// placeholders.

// DSTChange is a daylight-saving transition as phones describe it: in Month,
// the Week-th (1-4, 5 for the last) Weekday (0 Sunday .. 6 Saturday), at
// Hour:Minute local time before the change. Day is this year's day of month.
type DSTChange struct {
	Month, Week, Weekday, Day, Hour, Minute int
}

// ZoneRule is a zone's standard offset (minutes east of UTC) and, when it has
// daylight saving, its transitions and how much it adds.
type ZoneRule struct {
	Std        int
	StdName    string
	DST        bool
	DSTName    string
	Start, End DSTChange
	Save       int // minutes
}

var zoneCache sync.Map // zone|year -> ZoneRule

// zoneRule reads the rule of zone in year from the zone database (once).
func zoneRule(zone string, year int) (ZoneRule, error) {
	key := zone + "|" + strconv.Itoa(year)
	if r, ok := zoneCache.Load(key); ok {
		return r.(ZoneRule), nil
	}
	r, err := readZoneRule(zone, year)
	if err == nil {
		zoneCache.Store(key, r)
	}
	return r, err
}

func readZoneRule(zone string, year int) (ZoneRule, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return ZoneRule{}, err
	}
	var r ZoneRule
	jan := time.Date(year, 1, 1, 12, 0, 0, 0, loc)
	jul := time.Date(year, 7, 1, 12, 0, 0, 0, loc)
	jn, jo := jan.Zone()
	ln, lo := jul.Zone()
	r.Std, r.StdName = jo/60, jn
	if lo < jo {
		r.Std, r.StdName = lo/60, ln // southern hemisphere: winter in July
	}
	if jo == lo {
		return r, nil
	}
	r.DST, r.Save = true, abs(lo-jo)/60
	r.DSTName = ln
	if lo < jo {
		r.DSTName = jn
	}
	var changes []time.Time
	prev := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	_, off := prev.In(loc).Zone()
	for d := 1; d <= 366; d++ {
		t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		if _, o := t.In(loc).Zone(); o != off {
			// The change is within (prev, t]: find its minute.
			lo, hi := prev, t
			for hi.Sub(lo) > time.Minute {
				mid := lo.Add(hi.Sub(lo) / 2)
				if _, o := mid.In(loc).Zone(); o == off {
					lo = mid
				} else {
					hi = mid
				}
			}
			changes = append(changes, hi.Truncate(time.Minute))
			off = o
		}
		prev = t
	}
	if len(changes) != 2 {
		return ZoneRule{}, fmt.Errorf("zone %s changes offset %d times in %d", zone, len(changes), year)
	}
	for _, c := range changes {
		// The local wall time just before the change, in the offset it leaves.
		before := c.Add(-time.Minute).In(loc)
		_, o := before.Zone()
		wall := c.Add(time.Duration(o) * time.Second).UTC()
		ch := DSTChange{Month: int(wall.Month()), Weekday: int(wall.Weekday()), Day: wall.Day(), Hour: wall.Hour(), Minute: wall.Minute()}
		ch.Week = (ch.Day-1)/7 + 1
		if ch.Day+7 > daysIn(wall.Month(), year) {
			ch.Week = 5 // the last such weekday of the month
		}
		if _, lo := c.In(loc).Zone(); lo/60 == r.Std+r.Save {
			r.Start = ch
		} else {
			r.End = ch
		}
	}
	return r, nil
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// hm formats minutes east of UTC as +HH:MM.
func hm(min int) string {
	sign := "+"
	if min < 0 {
		sign, min = "-", -min
	}
	return fmt.Sprintf("%s%02d:%02d", sign, min/60, min%60)
}

// posixTZ is the rule as a POSIX TZ string with every field spelled out
// (CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00), as Grandstream phones take it.
func (r ZoneRule) posixTZ() string {
	off := func(min int) string { // POSIX offsets are west of UTC
		s := posixHours(-min)
		return s
	}
	std := posixName(r.StdName)
	if !r.DST {
		return std + off(r.Std)
	}
	ch := func(c DSTChange) string {
		return fmt.Sprintf("M%d.%d.%d/%02d:%02d:00", c.Month, c.Week, c.Weekday, c.Hour, c.Minute)
	}
	return std + off(r.Std) + posixName(r.DSTName) + off(r.Std+r.Save) + "," + ch(r.Start) + "," + ch(r.End)
}

func posixHours(min int) string {
	sign := ""
	if min < 0 {
		sign, min = "-", -min
	}
	if min%60 == 0 {
		return sign + strconv.Itoa(min/60)
	}
	return fmt.Sprintf("%s%d:%02d", sign, min/60, min%60)
}

// posixName quotes a zone abbreviation that is not three or more letters
// (+0530 for instance).
func posixName(s string) string {
	ok := len(s) >= 3
	for _, c := range s {
		ok = ok && (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')
	}
	if ok {
		return s
	}
	return "<" + s + ">"
}

// timeVars adds the time-zone placeholders of zone.
func timeVars(v map[string]string, zone string, now time.Time) {
	r, err := zoneRule(zone, now.Year())
	if err != nil {
		r = ZoneRule{StdName: "UTC"}
	}
	v["KPBX_TIMEZONE_OFFSET"] = formatOffsetHours(r.Std)
	v["KPBX_TIMEZONE_OFFSET_MINUTES"] = strconv.Itoa(r.Std)
	v["KPBX_TIMEZONE_OFFSET_HM"] = hm(r.Std)
	v["KPBX_TIMEZONE_POSIX"] = r.posixTZ()
	v["KPBX_TIMEZONE_SNOM"] = snomZone(zone, r)
	v["KPBX_TIMEZONE_GIGASET"] = gigasetZone(zone, r)
	v["KPBX_TIMEZONE_NAME_YEALINK"] = yealinkZoneNames[zone]
	v["KPBX_DST"] = ""
	if !r.DST {
		return
	}
	v["KPBX_DST"] = "1"
	v["KPBX_DST_SAVE_MINUTES"] = strconv.Itoa(r.Save)
	for name, c := range map[string]DSTChange{"START": r.Start, "END": r.End} {
		p := "KPBX_DST_" + name + "_"
		v[p+"MONTH"] = strconv.Itoa(c.Month)
		v[p+"WEEK"] = strconv.Itoa(c.Week)
		v[p+"WEEKDAY"] = strconv.Itoa(c.Weekday)
		v[p+"DAY"] = strconv.Itoa(c.Day)
		v[p+"HOUR"] = strconv.Itoa(c.Hour)
		v[p+"MINUTE"] = strconv.Itoa(c.Minute)
	}
}

// snomZones are Snom's time zone names (a country and its standard offset;
// the phone applies the country's daylight saving) for IANA zones.
var snomZones = map[string]string{
	"UTC": "GBR-0", "Etc/UTC": "GBR-0", "Europe/London": "GBR-0", "Europe/Dublin": "IRL-0", "Europe/Lisbon": "POR-0",
	"Atlantic/Reykjavik": "ISL-0", "Europe/Rome": "ITA+1", "Europe/Vatican": "ITA+1", "Europe/San_Marino": "ITA+1",
	"Europe/Berlin": "GER+1", "Europe/Paris": "FRA+1", "Europe/Monaco": "FRA+1", "Europe/Madrid": "ESP+1",
	"Europe/Amsterdam": "NLD+1", "Europe/Brussels": "BEL+1", "Europe/Luxembourg": "LUX+1", "Europe/Vienna": "AUT+1",
	"Europe/Zurich": "CHE+1", "Europe/Stockholm": "SWE+1", "Europe/Oslo": "NOR+1", "Europe/Copenhagen": "DNK+1",
	"Europe/Warsaw": "POL+1", "Europe/Prague": "CZE+1", "Europe/Bratislava": "SVK+1", "Europe/Budapest": "HUN+1",
	"Europe/Ljubljana": "SVN+1", "Europe/Zagreb": "HRV+1", "Europe/Belgrade": "SRB+1", "Europe/Malta": "MLT+1",
	"Europe/Tirane": "ALB+1", "Europe/Athens": "GRC+2", "Europe/Helsinki": "FIN+2", "Europe/Tallinn": "EST+2",
	"Europe/Riga": "LVA+2", "Europe/Vilnius": "LTU+2", "Europe/Bucharest": "ROU+2", "Europe/Sofia": "BGR+2",
	"Europe/Kyiv": "UKR+2", "Europe/Kiev": "UKR+2", "Asia/Jerusalem": "ISR+2", "Africa/Cairo": "EGY+2",
	"Africa/Johannesburg": "ZAF+2", "Europe/Istanbul": "TUR+3", "Europe/Moscow": "RUS+3", "Asia/Riyadh": "SAU+3",
	"Asia/Dubai": "ARE+4", "Asia/Karachi": "PAK+5", "Asia/Kolkata": "IND+5.5", "Asia/Calcutta": "IND+5.5",
	"Asia/Bangkok": "THA+7", "Asia/Shanghai": "CHN+8", "Asia/Hong_Kong": "HKG+8", "Asia/Singapore": "SGP+8",
	"Australia/Perth": "AUS+8", "Asia/Tokyo": "JPN+9", "Asia/Seoul": "KOR+9", "Australia/Adelaide": "AUS+9.5",
	"Australia/Darwin": "AUS+9.5", "Australia/Sydney": "AUS+10", "Australia/Melbourne": "AUS+10",
	"Australia/Brisbane": "AUS+10", "Pacific/Auckland": "NZL+12", "America/St_Johns": "CAN-3.5",
	"America/Halifax": "CAN-4", "America/Toronto": "CAN-5", "America/Winnipeg": "CAN-6", "America/Edmonton": "CAN-7",
	"America/Vancouver": "CAN-8", "America/New_York": "USA-5", "America/Detroit": "USA-5", "America/Chicago": "USA-6",
	"America/Denver": "USA-7", "America/Los_Angeles": "USA-8", "America/Anchorage": "USA-9",
	"Pacific/Honolulu": "USA-10", "America/Mexico_City": "MEX-6",
}

// snomByOffset names a zone the table lacks after a country of the same
// standard offset and the same daylight saving or none.
var snomByOffset = map[int]string{0: "GBR-0", 60: "GER+1", 120: "FIN+2", 180: "RUS+3", 240: "ARE+4", 300: "PAK+5",
	330: "IND+5.5", 420: "THA+7", 480: "CHN+8", 540: "JPN+9", 600: "AUS+10", -300: "USA-5", -360: "USA-6",
	-420: "USA-7", -480: "USA-8", -240: "CAN-4"}

func snomZone(zone string, r ZoneRule) string {
	if s, ok := snomZones[zone]; ok {
		return s
	}
	if s, ok := snomByOffset[r.Std]; ok {
		return s
	}
	return "GBR-0"
}

// yealinkZoneNames are the zone names of Yealink's firmware family (Yealink,
// Akuvox) for zones with daylight saving: naming one makes the phone apply that
// zone's rule by itself.
var yealinkZoneNames = map[string]string{
	"Europe/Rome": "Italy(Rome)", "Europe/Vatican": "Italy(Rome)", "Europe/San_Marino": "Italy(Rome)",
	"Europe/Berlin": "Germany(Berlin)", "Europe/Paris": "France(Paris)", "Europe/Madrid": "Spain(Madrid)",
	"Europe/London": "United Kingdom(London)", "Europe/Dublin": "Ireland(Dublin)", "Europe/Lisbon": "Portugal(Lisboa,Porto,Funchal)",
	"Europe/Amsterdam": "Netherlands(Amsterdam)", "Europe/Brussels": "Belgium(Brussels)", "Europe/Vienna": "Austria(Vienna)",
	"Europe/Zurich": "Switzerland(Bern)", "Europe/Warsaw": "Poland(Warsaw)", "Europe/Prague": "Czech Republic(Prague)",
	"Europe/Athens": "Greece(Athens)", "Europe/Helsinki": "Finland(Helsinki)", "Europe/Bucharest": "Romania(Bucharest)",
	"America/New_York": "United States-Eastern Time", "America/Chicago": "United States-Central Time",
	"America/Denver": "United States-Mountain Time", "America/Los_Angeles": "United States-Pacific Time",
	"America/Anchorage": "United States-Alaska Time", "America/Halifax": "Canada(Halifax,Saint John)",
	"America/Toronto": "Canada(Montreal,Ottawa,Quebec)", "America/Vancouver": "Canada(Vancouver,Whitehorse)",
	"America/St_Johns": "Canada-New Foundland(St.Johns)", "Australia/Sydney": "Australia(Sydney,Melbourne,Canberra)",
	"Australia/Melbourne": "Australia(Sydney,Melbourne,Canberra)", "Australia/Adelaide": "Australia(Adelaide)",
	"Pacific/Auckland": "New Zealand(Wellington,Auckland)",
}

// gigasetZones are the zone names Gigaset Nx70 systems accept (the list of
// their web interface, as wazo-provd's Gigaset plugin carries it); UTC is
// Greenwich there.
var gigasetZones = toSet("Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
	"America/Chicago", "America/New_York", "America/Caracas", "America/Sao_Paulo", "Europe/Belfast", "Europe/Dublin",
	"Europe/Guernsey", "Europe/Isle_of_Man", "Europe/Jersey", "Europe/Lisbon", "Europe/London", "Greenwich",
	"Europe/Amsterdam", "Europe/Andorra", "Europe/Belgrade", "Europe/Berlin", "Europe/Bratislava", "Europe/Brussels",
	"Europe/Budapest", "Europe/Busingen", "Europe/Copenhagen", "Europe/Gibraltar", "Europe/Ljubljana",
	"Europe/Luxembourg", "Europe/Madrid", "Europe/Malta", "Europe/Monaco", "Europe/Oslo", "Europe/Paris",
	"Europe/Podgorica", "Europe/Prague", "Europe/Rome", "Europe/San_Marino", "Europe/Sarajevo", "Europe/Skopje",
	"Europe/Stockholm", "Europe/Tirane", "Europe/Vaduz", "Europe/Vatican", "Europe/Vienna", "Europe/Warsaw",
	"Europe/Zagreb", "Europe/Zurich", "Africa/Cairo", "Europe/Athens", "Europe/Bucharest", "Europe/Chisinau",
	"Europe/Helsinki", "Europe/Kaliningrad", "Europe/Kiev", "Europe/Mariehamn", "Europe/Nicosia", "Europe/Riga",
	"Europe/Sofia", "Europe/Tallinn", "Europe/Tiraspol", "Europe/Uzhgorod", "Europe/Vilnius", "Europe/Zaporozhye",
	"Europe/Istanbul", "Europe/Kirov", "Europe/Minsk", "Europe/Moscow", "Europe/Simferopol", "Europe/Volgograd",
	"Asia/Dubai", "Europe/Astrakhan", "Europe/Samara", "Europe/Ulyanovsk", "Asia/Karachi", "Asia/Dhaka",
	"Asia/Hong_Kong", "Asia/Tokyo", "Australia/Adelaide", "Australia/Darwin", "Australia/Brisbane", "Australia/Sydney",
	"Pacific/Noumea")

// gigasetZone is zone when the list has it, Greenwich for UTC, else the listed
// zone of the same standard offset that also has (or lacks) daylight saving,
// else the nearest standard offset below.
func gigasetZone(zone string, r ZoneRule) string {
	switch {
	case gigasetZones[zone]:
		return zone
	case zone == "UTC" || zone == "Etc/UTC" || strings.HasPrefix(zone, "Etc/GMT") && r.Std == 0:
		return "Greenwich"
	}
	best, bestOff, year := "Greenwich", -1<<30, time.Now().Year()
	for _, z := range sortedKeys(gigasetZones) {
		if z == "Greenwich" {
			continue
		}
		zr, err := zoneRule(z, year)
		if err != nil || zr.Std > r.Std {
			continue
		}
		if zr.Std > bestOff || zr.Std == bestOff && zr.DST == r.DST {
			best, bestOff = z, zr.Std
		}
	}
	return best
}

func toSet(list ...string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
