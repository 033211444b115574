package chroottest

import "github.com/switchboard-pbx/switchboard/internal/testlog"

// syncBuffer collects a daemon's output while the test reads it.
type syncBuffer = testlog.Buffer
