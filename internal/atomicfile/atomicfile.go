// Package atomicfile writes a file so that a reader sees the old content or
// the new, never a truncated file: a temporary file beside it, renamed over
// it.
package atomicfile

import (
	"fmt"
	"os"
)

// Write replaces path with data (mode for a new file), through path+".tmp".
func Write(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
