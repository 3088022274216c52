package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

func main() {
	bin := flag.String("bin", "", "the fleetplan binary (default: built from this module)")
	saves := flag.Int("saves", 200, "saves to measure")
	files := flag.Int("files", 1, "plan files in the repository (one of them is saved)")
	debounce := flag.Duration("debounce", 100*time.Millisecond, "watch --debounce")
	header := flag.Bool("header", false, "print the table header first")
	flag.Parse()
	if err := run(*bin, *saves, *files, *debounce, *header); err != nil {
		fmt.Fprintln(os.Stderr, "watchbench:", err)
		os.Exit(1)
	}
}

func plan(i, save int) string {
	return fmt.Sprintf("# save %d\napiVersion: fleetplan/v1\nkind: RollingUpgrade\nmetadata: {name: p%04d}\nspec:\n  target: local\n  steps:\n    - {id: hello, action: generic.noop}\n", save, i)
}

// atomicSave writes path the way editors do, and returns when the rename
// that publishes it returned.
func atomicSave(path, content string) (time.Time, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return time.Time{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

func run(bin string, saves, files int, debounce time.Duration, header bool) error {
	tmp, err := os.MkdirTemp("", "watchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "fleetplan")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/fleetplan").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, out)
		}
	}
	repo := filepath.Join(tmp, "repo")
	if err := os.MkdirAll(filepath.Join(repo, "plans"), 0o755); err != nil {
		return err
	}
	if out, err := exec.Command(bin, "fleet", "init", filepath.Join(repo, "fleet")).CombinedOutput(); err != nil {
		return fmt.Errorf("fleet init: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(repo, "fleetplan.yaml"), []byte("targets:\n  local: {driver: local, path: fleet}\n"), 0o644); err != nil {
		return err
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(repo, "plans", fmt.Sprintf("p%04d.yaml", i)), []byte(plan(i, 0)), 0o644); err != nil {
			return err
		}
	}
	saved := filepath.Join(repo, "plans", "p0000.yaml")

	base, err := bareFsnotify(saved, saves)
	if err != nil {
		return err
	}
	lat, initial, err := watcher(bin, repo, saved, saves, files, debounce)
	if err != nil {
		return err
	}
	if header {
		fmt.Println("| repository | saves | debounce | save to plan start p50 | p95 | max | bare fsnotify p50 / p95 | watcher beyond debounce, p95 | first plan of every file |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	}
	p50, p95, pmax := pct(lat, 50), pct(lat, 95), pct(lat, 100)
	fmt.Printf("| %d plan file%s | %d | %s | %s | %s | %s | %s / %s | %s (%.0f× the bare p95) | %s |\n",
		files, plural(files), saves, debounce, ms(p50), ms(p95), ms(pmax), ms(pct(base, 50)), ms(pct(base, 95)),
		ms(p95-debounce), float64(p95-debounce)/float64(max(pct(base, 95), time.Microsecond)), ms(initial))
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// bareFsnotify is the baseline: a watcher on the folder that does nothing
// but take the event of each save.
func bareFsnotify(path string, saves int) ([]time.Duration, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return nil, err
	}
	var out []time.Duration
	for i := range saves {
		at, err := atomicSave(path, plan(0, -1-i))
		if err != nil {
			return nil, err
		}
		for ev := range w.Events {
			if ev.Name == path && ev.Has(fsnotify.Create) {
				out = append(out, time.Since(at))
				break
			}
		}
	}
	return out, nil
}

type line struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	Plan  string    `json:"plan"`
}

// watcher measures the real watcher: for each save, the time from the save
// to the watcher's "plan" line (logged as planning starts), by the line's
// own timestamp; the next save waits for the plan to end.
func watcher(bin, repo, saved string, saves, files int, debounce time.Duration) ([]time.Duration, time.Duration, error) {
	cmd := exec.Command(bin, "watch", "plans", "--output", "json", "--debounce", debounce.String(), "--drift-interval", "0")
	cmd.Dir = repo
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	lines := make(chan line, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l line
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Event != "" {
				lines <- l
			}
		}
		close(lines)
	}()
	next := func(match func(line) bool) (line, error) {
		timeout := time.After(2 * time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return line{}, fmt.Errorf("the watcher ended: %s", stderr.String())
				}
				if match(l) {
					return l, nil
				}
			case <-timeout:
				return line{}, fmt.Errorf("no answer from the watcher: %s", stderr.String())
			}
		}
	}
	for n := 0; n < files; n++ {
		if _, err := next(func(l line) bool { return l.Event == "planned" }); err != nil {
			return nil, 0, err
		}
	}
	initial := time.Since(start)
	var lat []time.Duration
	for i := range saves {
		at, err := atomicSave(saved, plan(0, i+1))
		if err != nil {
			return nil, 0, err
		}
		l, err := next(func(l line) bool { return l.Event == "plan" && l.Plan == "p0000" })
		if err != nil {
			return nil, 0, err
		}
		lat = append(lat, l.Time.Sub(at))
		if _, err := next(func(l line) bool { return l.Event == "planned" && l.Plan == "p0000" }); err != nil {
			return nil, 0, err
		}
	}
	return lat, initial, nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[min(i, len(s))-1]
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return strings.TrimSuffix(fmt.Sprintf("%.2f ms", float64(d)/1e6), "")
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}
