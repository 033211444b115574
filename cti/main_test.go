package cti

import (
	"os"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
)

// TestMain stops the package's shared real Asterisk (asterisktest.Shared)
// and removes MariaDB's installed template (mariadbtest.Start).
func TestMain(m *testing.M) {
	code := asterisktest.Main(m)
	mariadbtest.Cleanup()
	os.Exit(code)
}
