package prcomment

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeGH answers `gh api`: the list of a pull request's comments from
// $FAKE_LIST (already in the --jq form the script asks for), and logs every
// other call with the body it sends to $FAKE_LOG.
const fakeGH = `#!/usr/bin/env bash
set -eu
[ "$1" = api ] || { echo "fake gh: only api" >&2; exit 2; }
shift
method=GET body=""
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-X) method=$2; shift 2 ;;
	-F) body=$(cat "${2#body=@}"); shift 2 ;;
	--paginate) shift ;;
	--jq) shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
if [ "$method" = GET ]; then cat "$FAKE_LIST"; exit 0; fi
printf '%s %s\n%s\n--\n' "$method" "${args[0]}" "$body" >> "$FAKE_LOG"
`

// TestPostCommentsScript runs examples/github/post-comments.sh against a
// fake gh: parts the pull request has are updated in place, new parts are
// posted, and comments of targets or parts this run no longer has are
// deleted; every body is a part the splitter made, within the limit.
func TestPostCommentsScript(t *testing.T) {
	script, err := filepath.Abs("../examples/github/post-comments.sh")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "gh"), []byte(fakeGH), 0o755); err != nil {
		t.Fatal(err)
	}
	// A long comment for target local (three parts at this limit) and a
	// short one for prod.
	long := "## fleetplan: target `local`\n\n" + "#### Steps\n\n" + table(900) + "#### Changes\n\n" + fence("diff", 300)
	const limit = 12000
	comments := []Comment{split("local", long, limit), split("prod", "## fleetplan: target `prod`\n\nno changes\n", limit)}
	if n := len(comments[0].Parts); n != 3 {
		t.Fatalf("local has %d parts, want 3 for this test", n)
	}
	checkBodies(t, comments[0].Parts, limit)
	dir := filepath.Join(tmp, "comments")
	if err := WriteDir(dir, comments); err != nil {
		t.Fatal(err)
	}
	// The pull request holds parts 1 and 2 of an earlier two-part local
	// comment, a comment of a target this run no longer plans, and a
	// comment by someone else.
	list := "11\t" + strings.TrimSuffix(Marker("local", 1, 2), "\n") + "\n" +
		"12\t" + strings.TrimSuffix(Marker("local", 2, 2), "\n") + "\n" +
		"13\t" + strings.TrimSuffix(Marker("staging", 1, 1), "\n") + "\n"
	listFile, logFile := filepath.Join(tmp, "list"), filepath.Join(tmp, "log")
	if err := os.WriteFile(listFile, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, dir, "42")
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GITHUB_REPOSITORY=acme/plans", "FAKE_LIST="+listFile, "FAKE_LOG="+logFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("post-comments.sh: %v\n%s", err, out)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	bodies := map[string]string{}
	for _, entry := range strings.Split(strings.TrimSuffix(string(log), "--\n"), "\n--\n") {
		call, body, _ := strings.Cut(entry, "\n")
		calls = append(calls, call)
		bodies[call] = strings.TrimSuffix(body, "\n")
	}
	want := []string{
		"PATCH repos/acme/plans/issues/comments/11",
		"PATCH repos/acme/plans/issues/comments/12",
		"POST repos/acme/plans/issues/42/comments", // local part 3
		"POST repos/acme/plans/issues/42/comments", // prod
		"DELETE repos/acme/plans/issues/comments/13",
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("gh calls (-want +got):\n%s", diff)
	}
	for call, part := range map[string]string{want[0]: comments[0].Parts[0], want[1]: comments[0].Parts[1]} {
		if bodies[call] != strings.TrimRight(part, "\n") {
			t.Errorf("%s sent another body than the part: %d bytes, want %d\n%q", call, len(bodies[call]), len(part), bodies[call][:min(200, len(bodies[call]))])
		}
	}
	var sent []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "DELETE") {
			sent = append(sent, bodies[c])
		}
	}
	if len(sent) > 0 {
		checkBodies(t, sent, limit)
	}
}

// checkBodies: every body sent is within the limit.
func checkBodies(t *testing.T, bodies []string, limit int) {
	t.Helper()
	for i, b := range bodies {
		if len(b) > limit {
			t.Errorf("body %d is %d bytes, over %d", i+1, len(b), limit)
		}
	}
}
