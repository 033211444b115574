package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const bundleUsage = `usage: switchboard support-bundle [-o FILE] [--config FILE] [--socket PATH]

Writes one .tar.gz for support: version and build, installed package versions,
the configuration with every secret redacted, status, HA status, the doctor's
report, recent logs (the journal under systemd), a metrics snapshot and the
audit chain check. No database content is included, and every secret value of
the configuration is scrubbed from every file. Default FILE:
switchboard-support-HOST-TIME.tar.gz in the current directory.
`

// secretKey matches configuration keys whose values are secrets.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|api_?key|credential|private)`)

// redactConfig returns the YAML with every secret value replaced, and those
// values (to scrub them from the other files too).
func redactConfig(data []byte) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	var secrets []string
	var walk func(n *yaml.Node, secret bool)
	walk = func(n *yaml.Node, secret bool) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, secret)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], secret || secretKey.MatchString(n.Content[i].Value))
			}
		case yaml.ScalarNode:
			if secret && n.Value != "" && n.Value != "REDACTED" {
				secrets = append(secrets, n.Value)
				n.Value, n.Tag, n.Style = "REDACTED", "!!str", 0
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				walk(n.Alias, secret)
			}
		}
	}
	walk(&doc, false)
	if len(doc.Content) == 0 {
		return data, nil, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), secrets, nil
}

type bundleFile struct {
	name string
	data []byte
}

func cmdSupportBundle(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("support-bundle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	out := fs.String("o", "", "output file (default: switchboard-support-HOST-TIME.tar.gz)")
	if printHelp(stdout, fs, args, bundleUsage) {
		return nil
	}
	if _, err := parse(fs, args); err != nil {
		return &exitError{code: 2}
	}
	host, _ := os.Hostname()
	now := time.Now().UTC()
	if *out == "" {
		*out = fmt.Sprintf("switchboard-support-%s-%s.tar.gz", host, now.Format("20060102T150405Z"))
	}
	var files []bundleFile
	add := func(name string, data []byte) { files = append(files, bundleFile{name, data}) }
	note := func(name string, err error) { add(name, []byte("not available: "+err.Error()+"\n")) }

	add("version.txt", []byte(versionString()+"\nhost: "+host+"\ncollected: "+now.Format(time.RFC3339)+"\n"))
	add("packages.txt", packageVersions())

	var secrets []string
	if raw, err := os.ReadFile(cf.config); err == nil {
		red, s, err := redactConfig(raw)
		if err != nil {
			note("config.yaml", fmt.Errorf("%s does not parse: %w", cf.config, err))
		} else {
			add("config.yaml", red)
			secrets = s
		}
	} else if cf.socket == "" {
		note("config.yaml", err)
	}

	sock, err := cf.socketPath()
	if err != nil {
		sock = cf.socket
	}
	c := newClient(sock, true, io.Discard, nil)
	for _, q := range []struct{ name, path string }{
		{"status.json", "/api/v1/status"},
		{"ha.json", "/api/v1/ha"},
		{"doctor.json", "/api/v1/diagnostics"},
		{"audit-verify.json", "/api/v1/audit/verify"},
		{"metrics.txt", "/metrics"},
		{"healthz.json", "/healthz"},
	} {
		b, err := c.raw("GET", q.path, "", nil)
		if err != nil {
			note(q.name, err)
			continue
		}
		add(q.name, b)
	}
	add("logs.txt", recentLogs())

	// Whatever a file says, no secret value of the configuration leaves.
	for i := range files {
		for _, s := range secrets {
			if len(s) >= 4 {
				files[i].data = bytes.ReplaceAll(files[i].data, []byte(s), []byte("REDACTED"))
			}
		}
	}
	if err := writeBundle(*out, host, now, files); err != nil {
		return &exitError{code: 1, msg: "support-bundle: " + err.Error()}
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "wrote %s (%s)\n", *out, strings.Join(names, ", "))
	return nil
}

func writeBundle(path, host string, now time.Time, files []bundleFile) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	dir := "switchboard-support-" + host + "/"
	for _, bf := range files {
		if err := tw.WriteHeader(&tar.Header{Name: dir + bf.name, Mode: 0o600, Size: int64(len(bf.data)), ModTime: now}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(bf.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// packageVersions lists installed packages with dpkg or rpm.
func packageVersions() []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range [][]string{
		{"dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\n"},
		{"rpm", "-qa", "--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\n"},
	} {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		if out, err := exec.CommandContext(ctx, c[0], c[1:]...).Output(); err == nil && len(out) > 0 {
			return append([]byte("# "+strings.Join(c, " ")+"\n"), out...)
		}
	}
	return []byte("not available: neither dpkg-query nor rpm answered\n")
}

// recentLogs is the daemon's journal of the last two days when it runs
// under systemd.
func recentLogs() []byte {
	if _, err := exec.LookPath("journalctl"); err != nil {
		return []byte("not available: no journalctl (the daemon's log is its standard error)\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "journalctl", "-u", "switchboard", "--since", "-2d", "--no-pager", "-n", "20000", "-o", "short-iso").CombinedOutput()
	if err != nil {
		return []byte(fmt.Sprintf("not available: journalctl: %v\n%s", err, out))
	}
	return out
}
