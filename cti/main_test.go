package cti

import (
	"os"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
)

// TestMain stops the package's shared real Asterisk (asterisktest.Shared).
func TestMain(m *testing.M) { os.Exit(asterisktest.Main(m)) }
