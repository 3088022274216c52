package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/runner"
	"github.com/fleetplan/fleetplan/stepgraph"
	_ "github.com/fleetplan/fleetplan/steps/generic" // registers generic.noop
	"github.com/fleetplan/fleetplan/stepspec"
)

func main() {
	width := flag.Int("width", 100, "steps per layer")
	layers := flag.Int("layers", 100, "layers; each step needs two steps of the layer before")
	jobs := flag.Int("j", 2, "parallel steps (runner) and jobs (make -j)")
	header := flag.Bool("header", false, "print the table header first")
	verbose := flag.Bool("v", false, "print details on stderr, including make with an empty `:` recipe")
	flag.Parse()
	if err := run(*width, *layers, *jobs, *header, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "runnerbench:", err)
		os.Exit(1)
	}
}

func id(l, k int) string { return fmt.Sprintf("s%d_%d", l, k) }

// needs is the one graph shape both contenders run.
func needs(l, k, width int) []string {
	if l == 0 {
		return nil
	}
	return []string{id(l-1, k), id(l-1, (k+1)%width)}
}

func run(width, layers, jobs int, header, verbose bool) error {
	n := width * layers
	tmp, err := os.MkdirTemp("", "runnerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	g := &stepgraph.Graph{FormatVersion: stepgraph.FormatVersion, Kind: "Bench", Plan: "noop", Target: "bench"}
	for l := range layers {
		for k := range width {
			g.Steps = append(g.Steps, &stepgraph.Step{ID: id(l, k), Action: stepspec.NoopName, Needs: needs(l, k, width)})
		}
	}
	start := time.Now()
	res, err := runner.Start(context.Background(), g, runner.Options{Dir: filepath.Join(tmp, ".fleetplan"), Parallel: jobs})
	if err != nil {
		return err
	}
	runnerTime := time.Since(start)
	if res.Done != n {
		return fmt.Errorf("runner finished %d of %d steps", res.Done, n)
	}

	makeTime, err := runMake(tmp, width, layers, jobs, "true")
	if err != nil {
		return err
	}
	if verbose {
		info, _ := os.Stat(filepath.Join(res.Dir, "journal.jsonl"))
		fmt.Fprintf(os.Stderr, "runner: %d steps in %s, journal %d bytes\n", n, runnerTime.Round(time.Millisecond), info.Size())
		fmt.Fprintf(os.Stderr, "make -j%d, recipe `true`: %s\n", jobs, makeTime.Round(time.Millisecond))
		// GNU make skips a recipe that is only `:`, so this measures its graph
		// walk alone, with no command run.
		if walk, err := runMake(tmp, width, layers, jobs, ":"); err == nil {
			fmt.Fprintf(os.Stderr, "make -j%d, recipe `:` (not run by make): %s, %.0f steps/s\n", jobs, walk.Round(time.Millisecond), rate(n, walk))
		}
	}
	if header {
		fmt.Println("| benchmark | fleetplan | baseline | ratio |")
		fmt.Println("|---|---|---|---|")
	}
	fmt.Printf("| runner: %d no-op steps, fsync'd journal, %d at a time | %.0f steps/s | GNU make -j%d, recipe `true`: %.0f steps/s | %.2f× |\n",
		n, jobs, rate(n, runnerTime), jobs, rate(n, makeTime), rate(n, runnerTime)/rate(n, makeTime))
	return nil
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// runMake writes a Makefile with the same graph, every recipe being recipe,
// and times make -j.
func runMake(dir string, width, layers, jobs int, recipe string) (time.Duration, error) {
	mk, err := exec.LookPath("make")
	if err != nil {
		return 0, fmt.Errorf("GNU make is needed for the baseline: %w", err)
	}
	var b strings.Builder
	var last []string
	for k := range width {
		last = append(last, id(layers-1, k))
	}
	fmt.Fprintf(&b, "all: %s\n", strings.Join(last, " "))
	var phony []string
	for l := range layers {
		for k := range width {
			fmt.Fprintf(&b, "%s: %s\n\t@%s\n", id(l, k), strings.Join(needs(l, k, width), " "), recipe)
			phony = append(phony, id(l, k))
		}
	}
	fmt.Fprintf(&b, ".PHONY: all %s\n", strings.Join(phony, " "))
	path := filepath.Join(dir, "Makefile")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	cmd := exec.Command(mk, "-s", fmt.Sprintf("-j%d", jobs), "-f", path)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("make: %v\n%s", err, out)
	}
	return time.Since(start), nil
}
