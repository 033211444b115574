package provision

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-pbx/switchboard/store"
)

// CSV import and export of accounts and devices. An import is one transaction:
// a bad row is reported with its line and column, and nothing is imported. Rows
// update the existing account (by extension) or device (by MAC), so re-importing
// an edited export is safe.

// AccountColumns are the account CSV columns, in export order.
var AccountColumns = []string{"extension", "sip_username", "auth_username", "sip_password", "display_name",
	"first_name", "last_name", "voicemail", "transport"}

// DeviceColumns are the device CSV columns; a device names its accounts by
// extension: account_extension is line 1's, lines all of them in line order
// separated by ";" (201;202;203).
var DeviceColumns = []string{"mac", "model", "template", "account_extension", "lines", "enabled", "notes", "ip_mode",
	"ip_address", "netmask", "gateway", "dns1", "dns2", "phone_username", "phone_password", "remote_address", "remote_port"}

// KeyColumns are the columns of the device keys CSV: one row per key, the
// device named by MAC. An import replaces the keys of each device it names.
var KeyColumns = []string{"mac", "module", "index", "type", "value", "label", "line"}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// MaxImportRows bounds one import.
const MaxImportRows = 20000

func lineErr(line int, field, format string, args ...any) error {
	return &store.ValidationError{Field: field, Msg: fmt.Sprintf("line %d: %s: %s", line, field, fmt.Sprintf(format, args...))}
}

// separator is the field separator of the header line: ';' when it has more
// semicolons than commas (Excel in locales whose decimal mark is a comma, such
// as Italian, writes ';'), ',' otherwise.
func separator(br *bufio.Reader) rune {
	// Peek more until the first line is buffered (or the buffer is full, or
	// the input ends).
	var head []byte
	for n := 1; n <= br.Size(); n = br.Buffered() + 1 {
		b, err := br.Peek(n)
		head = b
		if bytes.IndexByte(b, '\n') >= 0 || err != nil {
			break
		}
	}
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	if bytes.Count(head, []byte{';'}) > bytes.Count(head, []byte{','}) {
		return ';'
	}
	return ','
}

// readCSV reads a header line naming known columns (any order, extra columns are
// an error) and calls row with each record as a map.
func readCSV(r io.Reader, known []string, required []string, row func(line int, rec map[string]string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	// A UTF-8 byte order mark (Excel writes one) is not part of the first name.
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3) //nolint:errcheck // peeked
	}
	cr := csv.NewReader(br)
	cr.Comma = separator(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return lineErr(1, "header", "the file is empty: the first line must name the columns (%s)", strings.Join(known, ","))
	}
	var pe *csv.ParseError
	if err != nil && !errors.As(err, &pe) {
		return fmt.Errorf("provision: reading the CSV: %w", err)
	}
	if err != nil {
		return lineErr(1, "header", "%v", err)
	}
	for i, h := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !containsStr(known, header[i]) {
			return lineErr(1, "header", "unknown column %q (columns: %s)", h, strings.Join(known, ","))
		}
	}
	for _, req := range required {
		if !containsStr(header, req) {
			return lineErr(1, "header", "column %q is required", req)
		}
	}
	n := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// FieldPos panics without a record: a parse error carries its line.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return lineErr(pe.Line, "csv", "%v", pe.Err)
			}
			// Reading failed (too large, too slow, the client left): the
			// front end answers that, not a line.
			return fmt.Errorf("provision: reading the CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return lineErr(line, "csv", "%d fields, the header has %d", len(rec), len(header))
		}
		if n++; n > MaxImportRows {
			return lineErr(line, "csv", "more than %d rows: split the file", MaxImportRows)
		}
		m := make(map[string]string, len(rec))
		for i, v := range rec {
			m[header[i]] = strings.TrimSpace(v)
		}
		if err := row(line, m); err != nil {
			return err
		}
	}
}

// withLine prefixes a validation error with its CSV line.
func withLine(line int, err error) error {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return &store.ValidationError{Field: ve.Field, Msg: fmt.Sprintf("line %d: %s", line, ve.Msg)}
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return &store.ConflictError{Field: ce.Field, Msg: fmt.Sprintf("line %d: %s", line, ce.Msg)}
	}
	return err
}

// ImportAccounts imports accounts from CSV in one transaction.
func (s *Service) ImportAccounts(ctx context.Context, actor store.Actor, tenant string, r io.Reader) (ImportResult, error) {
	var res ImportResult
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		res = ImportResult{}
		byExt := map[string]string{}
		if err := listInto(tx, KindAccount, tenant, func(a Account) { byExt[a.Extension] = a.ID }); err != nil {
			return err
		}
		seen := map[string]int{}
		return readCSV(r, AccountColumns, []string{"extension"}, func(line int, rec map[string]string) error {
			ext := rec["extension"]
			if first, dup := seen[ext]; dup {
				return lineErr(line, "extension", "extension %s already on line %d", ext, first)
			}
			seen[ext] = line
			id := byExt[ext]
			if _, err := s.saveAccount(tx, tenant, id, accountRowPatch(rec, id != "")); err != nil {
				return withLine(line, err)
			}
			if id == "" {
				res.Created++
			} else {
				res.Updated++
			}
			return nil
		})
	})
	return res, err
}

// ImportDevices imports devices from CSV in one transaction.
func (s *Service) ImportDevices(ctx context.Context, actor store.Actor, tenant string, r io.Reader) (ImportResult, error) {
	var res ImportResult
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		res = ImportResult{}
		accByExt := map[string]string{}
		if err := listInto(tx, KindAccount, tenant, func(a Account) { accByExt[a.Extension] = a.ID }); err != nil {
			return err
		}
		devByMAC := map[string]string{}
		if err := listInto(tx, KindDevice, tenant, func(d Device) { devByMAC[d.MAC] = d.ID }); err != nil {
			return err
		}
		seen := map[string]int{}
		return readCSV(r, DeviceColumns, []string{"mac", "model"}, func(line int, rec map[string]string) error {
			mac, err := ParseMAC(rec["mac"])
			if err != nil {
				return lineErr(line, "mac", "%v", err)
			}
			if first, dup := seen[mac.String()]; dup {
				return lineErr(line, "mac", "MAC %s already on line %d", mac, first)
			}
			seen[mac.String()] = line
			id := devByMAC[mac.String()]
			raw, err := deviceRowPatch(line, rec, mac, id != "", accByExt)
			if err != nil {
				return err
			}
			if _, err := s.saveDevice(tx, tenant, id, raw); err != nil {
				return withLine(line, err)
			}
			if id == "" {
				res.Created++
			} else {
				res.Updated++
			}
			return nil
		})
	})
	return res, err
}

// accountRowPatch is the JSON patch an account CSV row makes; for an account
// that exists an empty (or masked) password keeps the one it has, so that an
// export without secrets imports back unchanged.
func accountRowPatch(rec map[string]string, exists bool) json.RawMessage {
	if exists && (rec["sip_password"] == "" || rec["sip_password"] == store.Mask) {
		delete(rec, "sip_password")
	}
	patch, _ := json.Marshal(rec)
	return patch
}

// deviceRowPatch is the JSON patch a device CSV row makes: the account named
// by extension (accByExt), typed fields parsed, the MAC normalized; for a
// device that exists an empty (or masked) phone password keeps the one it has.
func deviceRowPatch(line int, rec map[string]string, mac MAC, exists bool, accByExt map[string]string) (json.RawMessage, error) {
	patch := map[string]any{}
	if exists && (rec["phone_password"] == "" || rec["phone_password"] == store.Mask) {
		delete(rec, "phone_password")
	}
	if v := rec["lines"]; v != "" {
		var lines []DeviceLine
		for i, ext := range strings.Split(v, ";") {
			ext = strings.TrimSpace(ext)
			id, ok := accByExt[ext]
			if !ok {
				return nil, lineErr(line, "lines", "line %d: no account with extension %q", i+1, ext)
			}
			lines = append(lines, DeviceLine{Account: id})
		}
		if first := rec["account_extension"]; first != "" && accByExt[first] != lines[0].Account {
			return nil, lineErr(line, "account_extension", "%s is not the first of the lines (%s)", first, v)
		}
		patch["lines"] = lines
		delete(rec, "account_extension")
	}
	delete(rec, "lines")
	for k, v := range rec {
		switch k {
		case "account_extension":
			if v == "" {
				patch["account"] = ""
				continue
			}
			id, ok := accByExt[v]
			if !ok {
				return nil, lineErr(line, k, "no account with extension %s", v)
			}
			patch["account"] = id
		case "enabled":
			b, err := parseBool(v)
			if err != nil {
				return nil, lineErr(line, k, "%v", err)
			}
			patch[k] = b
		case "remote_port":
			if v == "" {
				patch[k] = 0
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, lineErr(line, k, "%q is not a port number", v)
			}
			patch[k] = n
		default:
			patch[k] = v
		}
	}
	if _, ok := rec["enabled"]; !ok {
		lines, _ := patch["lines"].([]DeviceLine)
		patch["enabled"] = len(lines) > 0 || patch["account"] != nil && patch["account"] != ""
	}
	patch["mac"] = mac.String()
	raw, _ := json.Marshal(patch)
	return raw, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "1", "true", "yes", "y", "on":
		return true, nil
	case "0", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes/no", v)
}

// ExportAccounts writes a tenant's accounts as CSV; without secrets the SIP
// passwords are left empty (an import keeps a password that is not given).
func (s *Service) ExportAccounts(ctx context.Context, tenant string, w io.Writer, secrets bool) error {
	list, err := s.Accounts(ctx, tenant)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write(AccountColumns)
	for _, a := range list {
		pw := a.SIPPassword
		if !secrets {
			pw = ""
		}
		cw.Write([]string{a.Extension, a.SIPUsername, a.AuthUsername, pw, a.DisplayName, a.FirstName, a.LastName, a.Voicemail, a.Transport})
	}
	cw.Flush()
	return cw.Error()
}

// ExportDevices writes a tenant's devices as CSV.
func (s *Service) ExportDevices(ctx context.Context, tenant string, w io.Writer, secrets bool) error {
	devs, err := s.Devices(ctx, tenant)
	if err != nil {
		return err
	}
	accs, err := s.Accounts(ctx, tenant)
	if err != nil {
		return err
	}
	ext := map[string]string{}
	for _, a := range accs {
		ext[a.ID] = a.Extension
	}
	cw := csv.NewWriter(w)
	cw.Write(DeviceColumns)
	for _, d := range devs {
		pw := d.PhonePassword
		if !secrets {
			pw = ""
		}
		port := ""
		if d.RemotePort != 0 {
			port = strconv.Itoa(d.RemotePort)
		}
		exts := make([]string, len(d.Lines))
		for i, l := range d.Lines {
			exts[i] = ext[l.Account]
		}
		cw.Write([]string{MustMAC(d.MAC).Format(MACColonUpper), d.Model, d.Template, ext[d.Account], strings.Join(exts, ";"), strconv.FormatBool(d.Enabled),
			d.Notes, d.IPAddrMode, d.IPAddr, d.Netmask, d.Gateway, d.DNS1, d.DNS2, d.PhoneUsername, pw, d.RemoteAddress, port})
	}
	cw.Flush()
	return cw.Error()
}

// ImportKeys imports device keys from CSV in one transaction: the keys of
// every device the file names are replaced by its rows (in file order, which
// also orders the keys without an index).
func (s *Service) ImportKeys(ctx context.Context, actor store.Actor, tenant string, r io.Reader) (ImportResult, error) {
	var res ImportResult
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		res = ImportResult{}
		devByMAC := map[string]string{}
		if err := listInto(tx, KindDevice, tenant, func(d Device) { devByMAC[d.MAC] = d.ID }); err != nil {
			return err
		}
		keys := map[string][]Key{}
		first := map[string]int{}
		var order []string
		err := readCSV(r, KeyColumns, []string{"mac", "type"}, func(line int, rec map[string]string) error {
			mac, err := ParseMAC(rec["mac"])
			if err != nil {
				return lineErr(line, "mac", "%v", err)
			}
			if devByMAC[mac.String()] == "" {
				return lineErr(line, "mac", "no device with MAC %s in this tenant", mac)
			}
			k := Key{Type: rec["type"], Value: rec["value"], Label: rec["label"]}
			for _, f := range []struct {
				col string
				to  *int
			}{{"module", &k.Module}, {"index", &k.Index}, {"line", &k.Line}} {
				if v := rec[f.col]; v != "" {
					n, err := strconv.Atoi(v)
					if err != nil {
						return lineErr(line, f.col, "%q is not a number", v)
					}
					*f.to = n
				}
			}
			m := mac.String()
			if _, ok := first[m]; !ok {
				first[m] = line
				order = append(order, m)
			}
			keys[m] = append(keys[m], k)
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range order {
			patch, _ := json.Marshal(map[string]any{"keys": keys[m]})
			if _, err := s.saveDevice(tx, tenant, devByMAC[m], patch); err != nil {
				return withLine(first[m], err)
			}
			res.Updated++
		}
		return nil
	})
	return res, err
}

// ExportKeys writes the keys of a tenant's devices as CSV, by MAC.
func (s *Service) ExportKeys(ctx context.Context, tenant string, w io.Writer) error {
	devs, err := s.Devices(ctx, tenant)
	if err != nil {
		return err
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].MAC < devs[j].MAC })
	cw := csv.NewWriter(w)
	cw.Write(KeyColumns)
	for _, d := range devs {
		mac := MustMAC(d.MAC).Format(MACColonUpper)
		for _, k := range d.Keys {
			cw.Write([]string{mac, strconv.Itoa(k.Module), strconv.Itoa(k.Index), k.Type, k.Value, k.Label, strconv.Itoa(k.Line)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// MustMAC parses a MAC already validated (stored devices); a bad one yields zeros.
func MustMAC(s string) MAC {
	m, _ := ParseMAC(s)
	return m
}
