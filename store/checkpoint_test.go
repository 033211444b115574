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

// TestCheckpointerCopiesUnannouncedWrites: writes that are no commit of
// configuration (DHCP leases) reach the database file too, within about
// checkpointIdle.
func TestCheckpointerCopiesUnannouncedWrites(t *testing.T) {
	s := openTest(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	before := fi.Size()
	var ls []DHCPLease
	for i := range 2000 {
		ls = append(ls, DHCPLease{IP: fmt.Sprintf("10.1.%d.%d", i/250, i%250), MAC: fmt.Sprintf("00156500%04x", i), State: "bound",
			Expires: time.Now().Add(time.Hour), Updated: time.Now(), Hostname: strings.Repeat("h", 40)})
	}
	if err := s.PutDHCPLeases(t.Context(), ls); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * checkpointIdle); ; time.Sleep(10 * time.Millisecond) {
		if fi, err = os.Stat(s.Path()); err == nil && fi.Size() > before+2000*40 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes (%d before 2,000 leases): nothing was copied from the log", fi.Size(), before)
		}
	}
}
