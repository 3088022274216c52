package sqlserver

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/google/go-cmp/cmp"
)

// TestOwnStoreGolden shows the T-SQL fleetplan deploys when it creates a
// shard map manager (global) and a shard's local shard map (local).
func TestOwnStoreGolden(t *testing.T) {
	golden(t, "ownstore.golden", map[string]string{"global": ownGlobalScript(), "local": ownLocalScript()})
}

// parsedProc is one CREATE OR ALTER batch of a store script.
type parsedProc struct {
	name, kind string // kind: PROCEDURE or FUNCTION
	params     []string
	root       string // the request document's root (nodes('/Root'))
	text       string
}

var (
	createRe = regexp.MustCompile(`^CREATE OR ALTER (PROCEDURE|FUNCTION) __ShardManagement\.(\w+)`)
	paramRe  = regexp.MustCompile(`(?s)^CREATE OR ALTER PROCEDURE __ShardManagement\.\w+\s*(.*?)\nAS\n`)
	rootRe   = regexp.MustCompile(`@input\.nodes\('/(\w+)'\)`)
)

// parseStore splits a store script into its batches, as the driver runs
// them, and reads each procedure's name, parameters and document root.
func parseStore(t *testing.T, script string) (tables string, procs map[string]parsedProc) {
	t.Helper()
	batches, err := SplitBatches(script)
	if err != nil {
		t.Fatal(err)
	}
	procs = map[string]parsedProc{}
	for i, b := range batches {
		sql := strings.TrimSpace(stripComments(b.SQL))
		if i == 0 {
			if createRe.MatchString(sql) {
				t.Fatalf("the first batch (line %d) must create the tables, not %s", b.Line, createRe.FindString(sql))
			}
			tables = sql
			continue
		}
		m := createRe.FindStringSubmatch(sql)
		if m == nil {
			t.Fatalf("batch at line %d does not start with CREATE OR ALTER (a procedure must be alone in its batch):\n%.200s", b.Line, sql)
		}
		p := parsedProc{kind: m[1], name: m[2], text: sql}
		if pm := paramRe.FindStringSubmatch(sql); pm != nil {
			for _, f := range strings.Split(pm[1], ",") {
				if f = strings.Join(strings.Fields(f), " "); f != "" {
					p.params = append(p.params, f)
				}
			}
		}
		if rm := rootRe.FindStringSubmatch(sql); rm != nil {
			p.root = rm[1]
		}
		if _, dup := procs[p.name]; dup {
			t.Errorf("%s is created twice", p.name)
		}
		procs[p.name] = p
	}
	return tables, procs
}

// stripComments drops -- comments (the scripts have no /* */ ones and no
// -- inside a string).
func stripComments(sql string) string {
	lines := strings.Split(sql, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "--"); j >= 0 {
			lines[i] = l[:j]
		}
	}
	return strings.Join(lines, "\n")
}

// TestOwnStoreBatches checks how the scripts split on GO: the tables in the
// first batch, then one CREATE OR ALTER per batch (CREATE PROCEDURE and
// CREATE FUNCTION must each be the first statement of a batch), every
// procedure of the side present, and no placeholder left unexpanded.
func TestOwnStoreBatches(t *testing.T) {
	for _, side := range []storeSide{globalStore, localStore} {
		script := side.Script()
		if i := strings.IndexAny(script, "{}"); i >= 0 {
			t.Errorf("%s script: unexpanded placeholder at %q", side.kind(), script[i:min(len(script), i+40)])
		}
		tables, procs := parseStore(t, script)
		if len(procs) != len(side.procs) {
			t.Errorf("%s script: %d procedures in the batches, %d defined", side.kind(), len(procs), len(side.procs))
		}
		for _, p := range side.procs {
			if _, ok := procs[p.name]; !ok {
				t.Errorf("%s script: no batch creates %s", side.kind(), p.name)
			}
		}
		if !strings.Contains(tables, "sp_getapplock") || !strings.Contains(tables, "CREATE TABLE __ShardManagement."+side.versionTable) {
			t.Errorf("%s script: the first batch must take the deploy lock and create %s:\n%s", side.kind(), side.versionTable, tables)
		}
		for name, p := range procs {
			if strings.Contains(p.text, "CREATE TABLE") {
				t.Errorf("%s creates a table; tables belong to the first batch", name)
			}
		}
	}
}

// driverProcs are the procedures the driver calls (requests.go), with the
// side of the store they live in.
var driverProcs = map[string]bool{ // name -> local
	spBulkShardsGlobalBegin: false, spBulkShardsGlobalEnd: false, spBulkMappingsGlobalBegin: false, spBulkMappingsGlobalEnd: false,
	spFindAndUpdateLog: false, spAddShardMapGlobal: false, spLockOrUnlockMappings: false, spAddSchemaInfo: false, spUpdateSchemaInfo: false,
	spAddShardLocal: true, spRemoveShardLocal: true, spUpdateShardLocal: true, spBulkMappingsLocal: true, spKillSessions: true,
}

// driverDocs are request documents the driver sends, by procedure: every
// operation's global Begin/End and Undo documents and its local calls,
// and the single-call documents.
func driverDocs(t *testing.T) map[string][]string {
	t.Helper()
	docs := map[string][]string{}
	add := func(proc, doc string) { docs[proc] = append(docs[proc], doc) }
	ops := goldOps()
	// The shard updates the driver undoes when it recovers a library
	// client's operation (RecoverPending), and an attach.
	moved := goldShard
	moved.Version, moved.Status = gid(20), 0
	ops["update shard"] = &elasticdb.Operation{ID: gid(21), Code: fleet.OpUpdateShard, Map: goldMap, ShardOp: true,
		Steps: []elasticdb.Step{{Kind: elasticdb.StepUpdate, Shard: &goldShard, NewShard: &moved}}}
	ops["attach shard"] = &elasticdb.Operation{ID: gid(22), Code: fleet.OpAttachShard, Map: goldMap, ShardOp: true,
		Steps: []elasticdb.Step{{Kind: elasticdb.StepAdd, Shard: &goldShard}}}
	for _, op := range ops {
		begin, end := bulkProcs(op)
		for _, undo := range []bool{false, true} {
			d, err := gsmDoc(op, undo)
			if err != nil {
				t.Fatal(err)
			}
			if !undo {
				add(begin, d)
			}
			add(end, d)
			for _, c := range localCalls(op, undo) {
				add(c.proc, c.doc)
			}
		}
	}
	add(spFindAndUpdateLog, findAndUpdateLogDoc(gid(7), elasticdb.UndoBegin))
	add(spAddShardMapGlobal, addShardMapDoc(goldMap))
	add(spLockOrUnlockMappings, lockOrUnlockDoc(goldMap, goldOld, goldNew.LockOwner, lockOpLock))
	add(spLockOrUnlockMappings, lockOrUnlockDoc(goldMap, goldOld, fleet.ForceUnlock, lockOpUnlockMappingForID))
	add(spAddSchemaInfo, schemaInfoDoc(true, "CustomerMap", `<Schema></Schema>`))
	add(spUpdateSchemaInfo, schemaInfoDoc(false, "CustomerMap", `<Schema></Schema>`))
	add(spKillSessions, killSessionsDoc(elasticdb.KillPattern(goldMap.ID)))
	return docs
}

var callArgRe = regexp.MustCompile(`(@\w+) = @\w+( OUTPUT)?`)

// TestOwnStoreProcedureContract reads fleetplan's scripts and checks that
// every procedure the driver calls exists on the right side of the store,
// with exactly the parameters callProcSQL passes (@input xml, @result int
// OUTPUT), reading the root element and the version element of the
// documents the driver sends, and only element paths those documents have.
func TestOwnStoreProcedureContract(t *testing.T) {
	_, global := parseStore(t, ownGlobalScript())
	_, local := parseStore(t, ownLocalScript())
	docs := driverDocs(t)
	for full, isLocal := range driverProcs {
		checkContract(t, full, isLocal, global, local, docs[full])
	}
}

// libraryRequests reads testdata/library_requests.txt: request documents
// of calls a client of the library makes and the driver does not, written
// from the library's request builder (StoreOperationRequestBuilder), one
// "side procedure document" line each.
func libraryRequests(t *testing.T) (docs map[string][]string, isLocal map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "library_requests.txt"))
	if err != nil {
		t.Fatal(err)
	}
	docs, isLocal = map[string][]string{}, map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || (f[0] != "global" && f[0] != "local") {
			t.Fatalf("library_requests.txt:%d: want \"global|local procedure document\", got %q", i+1, line)
		}
		full := "__ShardManagement." + f[1]
		docs[full] = append(docs[full], f[2])
		isLocal[full] = f[0] == "local"
	}
	return docs, isLocal
}

// TestOwnStoreLibraryContract checks the procedures the library's clients
// call the way TestOwnStoreProcedureContract checks the driver's: present
// on the right side, the parameters callProcSQL passes, the root and the
// version element of the documents the library sends, and only element
// paths its documents (and, for a procedure the driver calls too, the
// driver's) have.
func TestOwnStoreLibraryContract(t *testing.T) {
	_, global := parseStore(t, ownGlobalScript())
	_, local := parseStore(t, ownLocalScript())
	docs, isLocal := libraryRequests(t)
	driver := driverDocs(t)
	for full, l := range isLocal {
		if dl, ok := driverProcs[full]; ok && dl != l {
			t.Errorf("%s: library_requests.txt puts it on the other side of the store than the driver", full)
		}
		checkContract(t, full, l, global, local, append(docs[full], driver[full]...))
	}
}

// TestOwnStoreLibraryProcedures checks fleetplan's store against every
// procedure the library's client names (testdata/library_procedures.txt,
// taken from its StoreOperationRequestBuilder): each is in the script of
// its side with @input xml and @result int OUTPUT, so a .NET client never
// gets "Could not find stored procedure" from a store fleetplan made. And
// every procedure of the store that reads a request document is checked
// against documents of its callers (the driver's, or the library's in
// library_requests.txt).
func TestOwnStoreLibraryProcedures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "library_procedures.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, global := parseStore(t, ownGlobalScript())
	_, local := parseStore(t, ownLocalScript())
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || (f[0] != "global" && f[0] != "local") {
			t.Fatalf("library_procedures.txt:%d: want \"global|local procedure\", got %q", i+1, line)
		}
		n++
		procs := map[string]map[string]parsedProc{"global": global, "local": local}[f[0]]
		p, ok := procs[f[1]]
		if !ok {
			t.Errorf("%s: the library's client calls it, fleetplan's %s store does not create it", f[1], f[0])
			continue
		}
		if want := []string{"@input xml", "@result int OUTPUT"}; p.kind != "PROCEDURE" || !cmp.Equal(p.params, want) {
			t.Errorf("%s: %s with %q, the library calls a procedure with %q", f[1], p.kind, p.params, want)
		}
	}
	if n == 0 {
		t.Fatal("library_procedures.txt names no procedure")
	}
	lib, _ := libraryRequests(t)
	driver := driverDocs(t)
	for _, procs := range []map[string]parsedProc{global, local} {
		for name, p := range procs {
			full := "__ShardManagement." + name
			if p.root != "" && len(lib[full]) == 0 && len(driver[full]) == 0 {
				t.Errorf("%s reads /%s, and no request document of the driver or the library is checked against it", name, p.root)
			}
		}
	}
}

// rowsetColumn is the second column of each rowset kind: the library's
// clients tell a rowset by that column's name (SqlResults).
var rowsetColumn = map[string]string{
	"1": "ShardMapId", "2": "ShardId", "3": "MappingId", "4": "Protocol",
	"5": "StoreVersionMajor", "6": "OperationId", "7": "Name",
}

var rowsetRe = regexp.MustCompile(`SELECT (?:DISTINCT )?(?:TOP \(1\) )?(\d+) AS RowsetKind, (?:\w+\.)?(\w+)`)

// TestOwnStoreRowsets checks that every rowset the store's procedures give
// has the second column the library reads its kind from.
func TestOwnStoreRowsets(t *testing.T) {
	seen := map[string]bool{}
	for _, script := range []string{ownGlobalScript(), ownLocalScript()} {
		_, procs := parseStore(t, script)
		for name, p := range procs {
			for _, m := range rowsetRe.FindAllStringSubmatch(p.text, -1) {
				seen[m[1]] = true
				if want, ok := rowsetColumn[m[1]]; !ok || m[2] != want {
					t.Errorf("%s: rowset %s starts with %s, the library tells it by %q", name, m[1], m[2], want)
				}
			}
			if strings.Count(p.text, "AS RowsetKind") != len(rowsetRe.FindAllString(p.text, -1)) {
				t.Errorf("%s: a rowset whose columns this test cannot read", name)
			}
		}
	}
	for k := range rowsetColumn {
		if !seen[k] {
			t.Errorf("no procedure gives rowset %s", k)
		}
	}
}

// checkContract checks one procedure against the documents its callers
// send.
func checkContract(t *testing.T, full string, isLocal bool, global, local map[string]parsedProc, docs []string) {
	t.Helper()
	name := strings.TrimPrefix(full, "__ShardManagement.")
	procs, other := global, local
	if isLocal {
		procs, other = local, global
	}
	p, ok := procs[name]
	if !ok {
		_, elsewhere := other[name]
		t.Errorf("%s: not in fleetplan's scripts (in the other side's: %v)", name, elsewhere)
		return
	}
	if want := []string{"@input xml", "@result int OUTPUT"}; !cmp.Equal(p.params, want) {
		t.Errorf("%s parameters = %q, want %q", name, p.params, want)
	}
	var args []string
	for _, m := range callArgRe.FindAllStringSubmatch(callProcSQL(full), -1) {
		args = append(args, m[1]+m[2])
	}
	if want := []string{"@input", "@result OUTPUT"}; !cmp.Equal(args, want) {
		t.Errorf("callProcSQL(%s) passes %q, the procedure takes %q", name, args, want)
	}
	if len(docs) == 0 {
		t.Errorf("%s: no request document to check it against", name)
	}
	for _, d := range docs {
		doc := parseDoc(t, d)
		if doc.name != p.root {
			t.Errorf("%s reads /%s, the caller sends <%s>", name, p.root, doc.name)
		}
		version := "GsmVersion"
		if isLocal {
			version = "LsmVersion"
		}
		if doc.child(version) == nil {
			t.Errorf("%s: the caller's document has no %s: %.120s", name, version, d)
		}
	}
	checkPaths(t, name, p.text, docs)
}

// xnode is a parsed request document.
type xnode struct {
	name     string
	attrs    map[string]bool
	children []*xnode
}

func (n *xnode) child(name string) *xnode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func parseDoc(t *testing.T, doc string) *xnode {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var stack []*xnode
	var root *xnode
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: e.Name.Local, attrs: map[string]bool{}}
			for _, a := range e.Attr {
				n.attrs[a.Name.Local] = true
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.children = append(top.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		t.Fatalf("not a document: %s", doc)
	}
	return root
}

// has reports whether some path of elements (and a final @attribute) from
// n matches steps; [..] predicates are ignored.
func (n *xnode) has(steps []string) bool {
	if len(steps) == 0 {
		return true
	}
	s := steps[0]
	if i := strings.IndexByte(s, '['); i >= 0 {
		s = s[:i]
	}
	if strings.HasPrefix(s, "@") {
		return len(steps) == 1 && n.attrs[s[1:]]
	}
	for _, c := range n.children {
		if c.name == s && c.has(steps[1:]) {
			return true
		}
	}
	return false
}

var (
	valuePathRe = regexp.MustCompile(`\b(\w+)\.value\('\(([^)]*)\)\[1\]'`)
	nodesRe     = regexp.MustCompile(`@input\.nodes\('/([^']*)'\) AS \w+\((\w+)\)`)
)

// at lists the nodes a path of elements from n (its first step n itself)
// reaches; [..] predicates are ignored.
func (n *xnode) at(steps []string) []*xnode {
	if len(steps) == 0 || steps[0] != n.name {
		return nil
	}
	nodes := []*xnode{n}
	for _, s := range steps[1:] {
		var next []*xnode
		for _, m := range nodes {
			for _, c := range m.children {
				if c.name == s {
					next = append(next, c)
				}
			}
		}
		nodes = next
	}
	return nodes
}

// checkPaths checks that each path a procedure reads with value() is in
// its callers' documents: read from a column of @input.nodes('/path'),
// some element at that path of some document has it.
func checkPaths(t *testing.T, name, text string, docs []string) {
	t.Helper()
	columns := map[string][]string{}
	for _, m := range nodesRe.FindAllStringSubmatch(text, -1) {
		columns[m[2]] = strings.Split(m[1], "/")
	}
	for _, m := range valuePathRe.FindAllStringSubmatch(text, -1) {
		steps := strings.Split(m[2], "/")
		if strings.HasPrefix(steps[0], "GsmVersion") || strings.HasPrefix(steps[0], "LsmVersion") {
			continue // checked above
		}
		from, ok := columns[m[1]]
		if !ok {
			t.Errorf("%s reads %s from %s, which is no column of @input.nodes", name, m[2], m[1])
			continue
		}
		found := false
		for _, d := range docs {
			for _, n := range parseDoc(t, d).at(from) {
				if n.has(steps) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s reads %s (under /%s) that no document of its callers has", name, m[2], strings.Join(from, "/"))
		}
	}
}

var (
	declareRe  = regexp.MustCompile(`(?i)\bDECLARE\s+`)
	variableRe = regexp.MustCompile(`@@?\w+`)
	stringRe   = regexp.MustCompile(`N?'(?:[^']|'')*'`)
)

// declared lists the variables of every DECLARE in sql (a list of
// "@name type [= expr]" items up to the semicolon, commas inside
// parentheses not separating items).
func declared(sql string) []string {
	var out []string
	for _, loc := range declareRe.FindAllStringIndex(sql, -1) {
		depth, start := 0, loc[1]
		for i := loc[1]; i < len(sql); i++ {
			switch sql[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 && (sql[i] == ',' || sql[i] == ';') {
				if v := variableRe.FindString(sql[start:i]); v != "" {
					out = append(out, v)
				}
				start = i + 1
				if sql[i] == ';' {
					break
				}
			}
		}
	}
	return out
}

// TestOwnStoreVariables reads every procedure as SQL Server would refuse
// it: a variable used but not declared (nor a parameter), or declared
// twice in one procedure.
func TestOwnStoreVariables(t *testing.T) {
	for _, script := range []string{ownGlobalScript(), ownLocalScript()} {
		_, procs := parseStore(t, script)
		for name, p := range procs {
			body := stringRe.ReplaceAllString(p.text, "''")
			known := map[string]bool{}
			for _, prm := range p.params {
				known[strings.Fields(prm)[0]] = true
			}
			for _, v := range declared(body) {
				if known[v] {
					t.Errorf("%s declares %s twice", name, v)
				}
				known[v] = true
			}
			for _, v := range variableRe.FindAllString(body, -1) {
				if !strings.HasPrefix(v, "@@") && !known[v] {
					t.Errorf("%s uses %s, which it does not declare", name, v)
				}
			}
		}
	}
}

var (
	execRe = regexp.MustCompile(`EXEC __ShardManagement\.(\w+)`)
	fnRe   = regexp.MustCompile(`__ShardManagement\.(fn\w+)\(`)
)

// TestOwnStoreReferences checks that every procedure or function a script
// calls is one the same script creates: a shard database has only the
// local side.
func TestOwnStoreReferences(t *testing.T) {
	for _, script := range []string{ownGlobalScript(), ownLocalScript()} {
		_, procs := parseStore(t, script)
		for name, p := range procs {
			for _, re := range []*regexp.Regexp{execRe, fnRe} {
				for _, m := range re.FindAllStringSubmatch(p.text, -1) {
					if m[1] == name && re == fnRe {
						continue // the function's own CREATE line
					}
					if _, ok := procs[m[1]]; !ok {
						t.Errorf("%s calls %s, which its script does not create", name, m[1])
					}
				}
			}
		}
	}
}

var (
	tableRe   = regexp.MustCompile(`(?s)CREATE TABLE __ShardManagement\.(\w+) \((.*?)\);`)
	versionRe = regexp.MustCompile(`INSERT INTO __ShardManagement\.(ShardMapManager\w+) \(StoreVersionMajor, StoreVersionMinor\) VALUES \((\d+), (\d+)\)`)
)

// TestOwnStoreTables checks the tables against the library's columns, in
// the library's order (the driver and the library's clients read them by
// name), and the version row: major 1, so a client of the library accepts
// the store.
func TestOwnStoreTables(t *testing.T) {
	want := map[string][]string{
		"ShardMapManagerGlobal":            {"StoreVersionMajor", "StoreVersionMinor"},
		"ShardMapsGlobal":                  {"ShardMapId", "Name", "ShardMapType", "KeyType"},
		"ShardsGlobal":                     {"ShardId", "Readable", "Version", "ShardMapId", "OperationId", "Protocol", "ServerName", "Port", "DatabaseName", "Status"},
		"ShardMappingsGlobal":              {"MappingId", "Readable", "ShardId", "ShardMapId", "OperationId", "MinValue", "MaxValue", "Status", "LockOwnerId"},
		"OperationsLogGlobal":              {"OperationId", "OperationCode", "Data", "UndoStartState", "ShardVersionRemoves", "ShardVersionAdds"},
		"ShardedDatabaseSchemaInfosGlobal": {"Name", "SchemaInfo"},
		"ShardMapManagerLocal":             {"StoreVersionMajor", "StoreVersionMinor"},
		"ShardMapsLocal":                   {"ShardMapId", "Name", "MapType", "KeyType", "LastOperationId"},
		"ShardsLocal":                      {"ShardId", "Version", "ShardMapId", "Protocol", "ServerName", "Port", "DatabaseName", "Status", "LastOperationId"},
		"ShardMappingsLocal":               {"MappingId", "ShardId", "ShardMapId", "MinValue", "MaxValue", "Status", "LockOwnerId", "LastOperationId"},
	}
	got := map[string][]string{}
	versions := map[string][2]string{}
	for _, script := range []string{ownGlobalScript(), ownLocalScript()} {
		tables, _ := parseStore(t, script)
		for _, m := range tableRe.FindAllStringSubmatch(tables, -1) {
			var cols []string
			depth, start := 0, 0
			def := m[2] + ","
			for i := 0; i < len(def); i++ {
				switch def[i] {
				case '(':
					depth++
				case ')':
					depth--
				case ',':
					if depth == 0 {
						if f := strings.Fields(def[start:i]); len(f) > 0 && f[0] != "CONSTRAINT" {
							cols = append(cols, f[0])
						}
						start = i + 1
					}
				}
			}
			got[m[1]] = cols
		}
		for _, m := range versionRe.FindAllStringSubmatch(tables, -1) {
			versions[m[1]] = [2]string{m[2], m[3]}
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tables (-library +fleetplan):\n%s", d)
	}
	for _, tbl := range []string{"ShardMapManagerGlobal", "ShardMapManagerLocal"} {
		if v := versions[tbl]; v != [2]string{"1", "2"} {
			t.Errorf("%s version row = %v, want 1.2 (the library's 2.4.2 clients ask for 1.2 and accept major 1)", tbl, v)
		}
	}
}

// TestOwnStoreResultCodes checks that the bodies name only results and
// operation codes the Go side knows, and that every result the store's
// procedures may give is one the driver turns into a fleet.StoreResult.
func TestOwnStoreResultCodes(t *testing.T) {
	placeholder := regexp.MustCompile(`\{(\w+)\}`)
	var unknown []string
	for _, side := range []storeSide{globalStore, localStore} {
		for _, p := range side.procs {
			for _, m := range placeholder.FindAllStringSubmatch(p.body+p.helper, -1) {
				switch m[1] {
				case "doc", "missing", "pending", "root", "shardFields", "shardVars", "mapFields", "mappingRows", "keyMatch", "mapType", "stepMapping":
					continue
				}
				if _, ok := resultCodes[m[1]]; !ok {
					if _, ok := opCodes[m[1]]; !ok {
						unknown = append(unknown, p.name+": "+m[1])
					}
				}
			}
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("unknown placeholders: %v", unknown)
	}
	for name, r := range resultCodes {
		if got := elasticdb.StoreErr("x", "y", r, ""); r != fleet.ResultSuccess && fleet.ResultOf(got) != r {
			t.Errorf("%s (%d) does not come back from a store error", name, r)
		}
	}
}

// TestDeployScriptChoice checks which script creates a store: fleetplan's
// own without options.elasticdbScripts, the library's files with it, and a
// folder that lacks them is refused with a hint.
func TestDeployScriptChoice(t *testing.T) {
	cfg, err := ParseConfig(target(map[string]string{"auth.user": "u", "auth.password": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	smm := cfg.SMM()
	tg := newTarget(cfg)
	got, err := tg.deployScript(smm, "deploy shard map manager", globalScripts, ownGlobalScript())
	if err != nil || got != ownGlobalScript() {
		t.Fatalf("without elasticdbScripts: err %v, script %.80q; want fleetplan's own", err, got)
	}

	dir := t.TempDir()
	for i, f := range globalScripts {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("SELECT "+string(rune('1'+i))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tg.cfg.ElasticDBScripts = dir
	got, err = tg.deployScript(smm, "deploy shard map manager", globalScripts, ownGlobalScript())
	if want := "SELECT 1\nGO\nSELECT 2\nGO\nSELECT 3\nGO\nSELECT 4\nGO\nSELECT 5\nGO\n"; err != nil || got != want {
		t.Fatalf("with elasticdbScripts: err %v, script %q, want %q", err, got, want)
	}

	tg.cfg.ElasticDBScripts = t.TempDir()
	_, err = tg.deployScript(smm, "deploy shard map manager", globalScripts, ownGlobalScript())
	var fe *fleet.Error
	if !errors.As(err, &fe) || !strings.Contains(fe.Hint, "elasticdbScripts") || !strings.Contains(fe.Hint, globalScripts[0]) {
		t.Fatalf("a folder without the scripts: %v, want an error whose hint names elasticdbScripts and %s", err, globalScripts[0])
	}
}

var (
	missingIfRe = regexp.MustCompile(`\bIF ([^;]*?) BEGIN SET @result = 50;`)
	rootValueRe = regexp.MustCompile(`(@\w+) = (?:CONVERT\(varbinary\(128\), )?r\.value\('\(([^)]*)\)\[1\]'`)
	isNullRe    = regexp.MustCompile(`^\s*(@\w+) IS NULL\s*$`)
)

// requiredPaths lists the element paths (from the root) a procedure
// answers 50 without: the value() reads of variables its "missing
// parameters" checks test for NULL unconditionally.
func requiredPaths(text string) []string {
	paths := map[string]string{}
	for _, m := range rootValueRe.FindAllStringSubmatch(text, -1) {
		paths[m[1]] = m[2]
	}
	var out []string
	for _, m := range missingIfRe.FindAllStringSubmatch(text, -1) {
		for _, term := range splitTopLevel(m[1], " OR ") {
			if v := isNullRe.FindStringSubmatch(strings.Join(strings.Fields(term), " ")); v != nil && paths[v[1]] != "" {
				out = append(out, paths[v[1]])
			}
		}
	}
	return out
}

// splitTopLevel splits s on sep outside parentheses.
func splitTopLevel(s, sep string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 && strings.HasPrefix(s[i:], sep) {
			parts = append(parts, s[start:i])
			start = i + len(sep)
		}
	}
	return append(parts, s[start:])
}

// TestOwnStoreRequiredPaths checks every request document of the driver
// and of the library against what the procedure it goes to requires: each
// element it answers 50 (missing parameters) without is in the document,
// so a well-formed request of either is never refused.
func TestOwnStoreRequiredPaths(t *testing.T) {
	lib, _ := libraryRequests(t)
	driver := driverDocs(t)
	checked := 0
	for _, script := range []string{ownGlobalScript(), ownLocalScript()} {
		_, procs := parseStore(t, script)
		for name, p := range procs {
			full := "__ShardManagement." + name
			required := requiredPaths(p.text)
			if p.root != "" && len(required) == 0 && strings.Contains(p.text, "(ShardMap/Id)[1]") {
				t.Errorf("%s: found no required element, though it reads ShardMap/Id (has the test lost track of its checks?)", name)
			}
			for _, d := range append(append([]string(nil), driver[full]...), lib[full]...) {
				root := parseDoc(t, d)
				for _, path := range required {
					checked++
					if !root.has(strings.Split(path, "/")) {
						t.Errorf("%s requires %s, which this request lacks: %.160s", name, path, d)
					}
				}
			}
		}
	}
	t.Logf("%d required elements checked", checked)
	if checked == 0 {
		t.Fatal("no required element checked")
	}
}
