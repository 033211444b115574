package store

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckpointerCopiesTheLog: commits that fill far less of the log than
// the writer's own checkpoint waits for still reach the database file, copied
// by the checkpointer beside the writer; and the log stays within the
// writer's backstop.
func TestCheckpointerCopiesTheLog(t *testing.T) {
	s := openTest(t)
	size := func(suffix string) int64 {
		fi, err := os.Stat(s.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size("")
	body := map[string]string{"note": strings.Repeat("x", 200)}
	for i := range 3 * checkpointCommits {
		if _, err := s.Update(t.Context(), alice, func(tx *Tx) error {
			return tx.Create("note", "t", fmt.Sprint(i), body, "a note")
		}); err != nil {
			t.Fatal(err)
		}
	}
	if wal := size("-wal"); wal >= autoCheckpointPages*4096 {
		t.Fatalf("the log is %d bytes after %d commits: the writer's checkpoint ran, the test proves nothing", wal, 3*checkpointCommits)
	}
	deadline := time.Now().Add(10 * time.Second)
	for size("") < before+int64(2*checkpointCommits*200) {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes (%d before %d commits of 200 bytes): nothing was copied from the log", size(""), before, 3*checkpointCommits)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
