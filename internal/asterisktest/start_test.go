package asterisktest

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestBoot(t *testing.T) {
	p := Start(t, Options{})
	a := p.AMI(t)
	eps, err := a.List("PJSIPShowEndpoints")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d endpoints, start %v", len(eps), p.StartTime)
	_ = time.Second
	t.Log(p.CLI(t, "module show like cdr"))
	t.Log(p.LogText())
	t.Log(p.Output())
}
