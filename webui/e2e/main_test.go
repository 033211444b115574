package e2e

import (
	"os"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	webuitest.StopShared()
	os.Exit(code)
}
