package main

import (
	"crypto/sha256"
	"database/sql"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/plans"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

var updateScripts = flag.Bool("update", false, "rewrite the expected output of testscript files")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fleetplan": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts of test/testdata/script: each txtar file
// holds plan files, the commands, and the exact expected output.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../test/testdata/script",
		UpdateScripts: *updateScripts,
		Setup: func(env *testscript.Env) error {
			examples, err := filepath.Abs("../../examples")
			env.Setenv("EXAMPLES", examples)
			env.Setenv("PLAN_KINDS", strings.Join(plans.Kinds(), ", "))
			return err
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"bigfile": bigFile, "treehash": treeHash, "unescape": unescape, "sqlite": sqliteCmd, "untime": untime},
	})
}

// bigFile NAME SIZE writes a plan file of SIZE bytes (a valid header, then
// comment lines), so huge inputs need not be committed.
func bigFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: bigfile NAME SIZE")
	}
	size, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("bigfile: %v", err)
	}
	var b strings.Builder
	b.WriteString("apiVersion: fleetplan/v1\nkind: ShardLayout\n")
	line := "# " + strings.Repeat("x", 97) + "\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat("#", size-b.Len()))
	f, err := os.Create(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("bigfile: %v", err)
	}
	defer f.Close()
	if _, err := fmt.Fprint(f, b.String()); err != nil {
		ts.Fatalf("bigfile: %v", err)
	}
}

// treeHash OUT DIR... writes the sha256 of every file under each DIR (or
// "absent") to OUT, so a script can check with cmp that a command changed
// nothing in the fleet or in .fleetplan.
func treeHash(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: treehash OUT DIR...")
	}
	var b strings.Builder
	for _, dir := range args[1:] {
		root := ts.MkAbs(dir)
		if _, err := os.Stat(root); os.IsNotExist(err) {
			fmt.Fprintf(&b, "%s: absent\n", dir)
			continue
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			fmt.Fprintf(&b, "%x  %s/%s\n", sha256.Sum256(data), dir, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			ts.Fatalf("treehash: %v", err)
		}
	}
	if err := os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o644); err != nil {
		ts.Fatalf("treehash: %v", err)
	}
}

// unescape IN OUT writes OUT with the bytes IN spells as a Go string literal
// body (\t, \r, \x00, \xff, ...), so scripts can hold files that are not
// clean UTF-8 text: stray bytes, NULs, CRLF line ends, a byte-order mark.
func unescape(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: unescape IN OUT")
	}
	in := ts.ReadFile(args[0])
	out, err := strconv.Unquote(`"` + strings.ReplaceAll(strings.ReplaceAll(in, `"`, `\"`), "\n", `\n`) + `"`)
	if err != nil {
		ts.Fatalf("unescape: %v", err)
	}
	if err := os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644); err != nil {
		ts.Fatalf("unescape: %v", err)
	}
}

// untime IN OUT writes IN to OUT with what changes from run to run spelled
// the same: the time at the start of a log line (15:04:05Z) and timestamps
// (2026-12-03T08:44:56.123Z, as JSON events have them) as TIME, run ids
// (20261203T084456Z-73ed) as RUN and instance operation ids as op-ID, so a
// script can cmp a log.
func untime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: untime IN OUT")
	}
	in := ts.ReadFile(args[0])
	out := logTime.ReplaceAllString(in, "TIME ")
	out = runID.ReplaceAllString(out, "RUN")
	out = timestamp.ReplaceAllString(out, "TIME")
	out = operationID.ReplaceAllString(out, "op-ID")
	if err := os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644); err != nil {
		ts.Fatalf("untime: %v", err)
	}
}

var (
	logTime     = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\dZ `)
	runID       = regexp.MustCompile(`\b\d{8}T\d{6}Z-[0-9a-f]{4}\b`)
	timestamp   = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b`)
	operationID = regexp.MustCompile(`\bop-[0-9a-f]{16}\b`)
)

// sqliteCmd runs SQL against a database file the way the sqlite3 tool does
// for the scripts (`sqlite FILE SQL...`): each argument is one statement or
// `.read FILE`; rows of a query are printed one a line, columns joined by
// '|'. It uses the same SQLite engine as the local driver, so the scripts
// need no tool installed on the machine.
func sqliteCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: sqlite FILE SQL...")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("sqlite: %v", err)
	}
	defer db.Close()
	for _, stmt := range args[1:] {
		if file, ok := strings.CutPrefix(stmt, ".read "); ok {
			stmt = ts.ReadFile(strings.TrimSpace(file))
		}
		head := strings.ToUpper(strings.TrimSpace(stmt))
		if !strings.HasPrefix(head, "SELECT") && !strings.HasPrefix(head, "PRAGMA") && !strings.HasPrefix(head, "WITH") {
			if _, err := db.Exec(stmt); err != nil {
				ts.Fatalf("sqlite: %v", err)
			}
			continue
		}
		rows, err := db.Query(stmt)
		if err != nil {
			ts.Fatalf("sqlite: %v", err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				ts.Fatalf("sqlite: %v", err)
			}
			text := make([]string, len(vals))
			for i, v := range vals {
				switch v := v.(type) {
				case nil:
				case []byte:
					text[i] = string(v)
				default:
					text[i] = fmt.Sprint(v)
				}
			}
			fmt.Fprintln(ts.Stdout(), strings.Join(text, "|"))
		}
		if err := rows.Err(); err != nil {
			ts.Fatalf("sqlite: %v", err)
		}
		rows.Close()
	}
}

// diagLine matches a diagnostic printed by fleetplan: path:line[:col]: message.
var diagLine = regexp.MustCompile(`^\S+\.ya?ml:\d+(:\d+)?: `)

// TestScriptMessagesHaveHints reads the expected output of every CLI script
// and fails on a diagnostic without a hint, so every class of message a user
// can get from a plan file says what to do about it.
func TestScriptMessagesHaveHints(t *testing.T) {
	paths, err := filepath.Glob("../../test/testdata/script/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, p := range paths {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if !strings.HasPrefix(f.Name, "want") {
				continue
			}
			for _, line := range strings.Split(string(f.Data), "\n") {
				if diagLine.MatchString(line) && !strings.Contains(line, " (hint: ") {
					t.Errorf("%s (%s): no hint: %s", filepath.Base(p), f.Name, line)
				}
			}
		}
	}
}
