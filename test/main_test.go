package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var (
	fleetplanBin string // the fleetplan binary built for this test run
	repoRoot     string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "fleetplan-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fleetplanBin = filepath.Join(dir, "fleetplan")
	build := exec.Command("go", "build", "-o", fleetplanBin, "./cmd/fleetplan")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fleetplan: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
