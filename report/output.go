package report

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// File is one file of an export, on disk.
type File struct {
	Name string // as attached ("cdr-2026-03-01.xlsx")
	Path string
	Size int64
}

// Dir writes an export's files into a directory (made private on first use).
type Dir struct {
	Path  string
	names []string
}

// Open creates the file name in the directory; it is an Opener.
func (d *Dir) Open(name string) (io.WriteCloser, error) {
	if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("report: bad file name %q", name)
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(d.Path, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	d.names = append(d.names, name)
	return f, nil
}

// Files lists what was written, in the order it was opened.
func (d *Dir) Files() ([]File, error) {
	out := make([]File, 0, len(d.names))
	for _, n := range d.names {
		p := filepath.Join(d.Path, n)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		out = append(out, File{Name: n, Path: p, Size: fi.Size()})
	}
	return out, nil
}

// MB is the unit of the size rule: 1 MB = 1,048,576 bytes.
const MB = 1 << 20

// NeedsZip is the size rule: compress when limitMB is 0 (always) or when the
// files together are larger than limitMB megabytes.
func NeedsZip(files []File, limitMB int) bool {
	if limitMB <= 0 {
		return true
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	return total > int64(limitMB)*MB
}

// Zip writes files into one deflated archive at path (named name when
// attached) and returns it.
func Zip(files []File, path, name string) (File, error) {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return File{}, fmt.Errorf("report: zip: %w", err)
	}
	zw := zip.NewWriter(out)
	for _, f := range files {
		if err := addToZip(zw, f); err != nil {
			out.Close()
			return File{}, err
		}
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return File{}, fmt.Errorf("report: zip: %w", err)
	}
	if err := out.Close(); err != nil {
		return File{}, fmt.Errorf("report: zip: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return File{}, fmt.Errorf("report: zip: %w", err)
	}
	return File{Name: name, Path: path, Size: fi.Size()}, nil
}

func addToZip(zw *zip.Writer, f File) error {
	in, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("report: zip: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("report: zip: %w", err)
	}
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return fmt.Errorf("report: zip: %w", err)
	}
	h.Name, h.Method = f.Name, zip.Deflate
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("report: zip %s: %w", f.Name, err)
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("report: zip %s: %w", f.Name, err)
	}
	return nil
}
