package sqlserver

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// The T-SQL this driver sends, built in one place so golden tests can read
// all of it. Identifiers are quoted with quoteName (QUOTENAME's rules);
// values are always parameters (@name), never spliced into the text.

// quoteName quotes an identifier as QUOTENAME does: brackets, with a closing
// bracket doubled.
func quoteName(s string) string { return "[" + strings.ReplaceAll(s, "]", "]]") + "]" }

// quoteString quotes a string literal (N'...'); only for statements that
// take no parameters, such as ALTER DATABASE.
func quoteString(s string) string { return "N'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Table is a schema-qualified table name.
type Table struct{ Schema, Name string }

// ParseTable reads "schema.table" or "table" (schema dbo), with optional
// brackets around each part.
func ParseTable(s string) (Table, error) {
	parts, err := splitIdent(s)
	if err != nil {
		return Table{}, err
	}
	switch len(parts) {
	case 1:
		return Table{Schema: "dbo", Name: parts[0]}, nil
	case 2:
		return Table{Schema: parts[0], Name: parts[1]}, nil
	}
	return Table{}, fmt.Errorf("%w: table %q: want table or schema.table", fleet.ErrInvalidArgument, s)
}

// splitIdent splits a dotted name whose parts may be bracketed.
func splitIdent(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '[':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == ']' {
					if j+1 < len(s) && s[j+1] == ']' {
						cur.WriteByte(']')
						j++
						continue
					}
					break
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unclosed [ in %q", fleet.ErrInvalidArgument, s)
			}
			i = j
		case ch == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("%w: empty name part in %q", fleet.ErrInvalidArgument, s)
		}
	}
	return parts, nil
}

// String is the quoted two-part name.
func (t Table) String() string { return quoteName(t.Schema) + "." + quoteName(t.Name) }

// Plain is schema.name unquoted, for messages and mssql.CopyIn.
func (t Table) Plain() string { return t.Schema + "." + t.Name }

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteName(c)
	}
	return strings.Join(q, ", ")
}

// rangeWhere is the key-range condition on column key: "@lo" and "@hi"
// are the parameters; a nil bound (-inf, +inf) drops its half.
func rangeWhere(key string, hasLow, hasHigh bool) string {
	var c []string
	if hasLow {
		c = append(c, quoteName(key)+" >= @lo")
	}
	if hasHigh {
		c = append(c, quoteName(key)+" < @hi")
	}
	if len(c) == 0 {
		return "1 = 1"
	}
	return strings.Join(c, " AND ")
}

// afterWhere is the keyset condition "row after (@a0, @a1, ...)" on the
// ordering columns, written as an OR of prefixes so SQL Server can seek on
// the index: (c0 > @a0) OR (c0 = @a0 AND c1 > @a1) OR ...
func afterWhere(order []string) string { return rowAfter(order, "a") }

// PageQuery reads one keyset page of a key range: the first @n rows after
// the last row of the previous page (first page: after false), in the order
// of the columns order (the primary key or a unique index, sharding key
// first). Never OFFSET: each page seeks where the last one ended.
func PageQuery(t Table, cols []string, key string, order []string, hasLow, hasHigh, after bool) string {
	where := rangeWhere(key, hasLow, hasHigh)
	if after {
		where += " AND " + afterWhere(order)
	}
	return fmt.Sprintf("SELECT TOP (@n) %s FROM %s WHERE %s ORDER BY %s", quoteList(cols), t, where, quoteList(order))
}

// KeyedTable is a table and its sharding key column.
type KeyedTable struct {
	Table Table
	Key   string
}

// NextBoundQuery finds the bound b such that [lo, b) holds n distinct key
// values across the tables: with @n = n+1, the (n+1)-th distinct key at or
// above @lo, below @hi, of the union of their keys. No row means fewer
// remain, and the bound is the range's high end.
func NextBoundQuery(tables []KeyedTable, hasLow, hasHigh bool) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = fmt.Sprintf("SELECT %s AS k FROM %s WHERE %s", quoteName(t.Key), t.Table, rangeWhere(t.Key, hasLow, hasHigh))
	}
	return fmt.Sprintf("SELECT MAX(k) FROM (SELECT DISTINCT TOP (@n) k FROM (%s) AS u ORDER BY k) AS d HAVING COUNT(*) = @n",
		strings.Join(parts, " UNION ALL "))
}

// ExistingKeysQuery reads the ordering columns of the rows of a table
// between two rows (inclusive): which rows of a page a destination has.
func ExistingKeysQuery(t Table, order []string) string {
	var lo, hi []string
	for i := range order {
		lo = append(lo, fmt.Sprintf("@a%d", i))
		hi = append(hi, fmt.Sprintf("@b%d", i))
	}
	return fmt.Sprintf("SELECT %s FROM %s WITH (UPDLOCK, HOLDLOCK) WHERE NOT %s AND NOT %s ORDER BY %s",
		quoteList(order), t, rowBefore(order, "a"), rowAfter(order, "b"), quoteList(order))
}

// rowBefore is "the row's ordering columns are below (@p0, @p1, ...)".
func rowBefore(order []string, p string) string { return rowCompare(order, p, "<") }

// rowAfter is "the row's ordering columns are above (@p0, @p1, ...)".
func rowAfter(order []string, p string) string { return rowCompare(order, p, ">") }

func rowCompare(order []string, p, op string) string {
	var ors []string
	for i := range order {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, fmt.Sprintf("%s = @%s%d", quoteName(order[j]), p, j))
		}
		ands = append(ands, fmt.Sprintf("%s %s @%s%d", quoteName(order[i]), op, p, i))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// DeleteRowsSQL deletes rows by their ordering columns: rows rows of
// len(order) parameters each, @d<row>_<col>.
func DeleteRowsSQL(t Table, order []string, rows int) string {
	ors := make([]string, rows)
	for r := 0; r < rows; r++ {
		ands := make([]string, len(order))
		for c, col := range order {
			ands[c] = fmt.Sprintf("%s = @d%d_%d", quoteName(col), r, c)
		}
		ors[r] = "(" + strings.Join(ands, " AND ") + ")"
	}
	return fmt.Sprintf("DELETE FROM %s WHERE %s", t, strings.Join(ors, " OR "))
}

// CountQuery counts the rows of a key range.
func CountQuery(t Table, key string, hasLow, hasHigh bool) string {
	return fmt.Sprintf("SELECT COUNT_BIG(*) FROM %s WHERE %s", t, rangeWhere(key, hasLow, hasHigh))
}

// ChecksumQuery is an order-independent checksum of the full rows of a key
// range: the count and CHECKSUM_AGG of BINARY_CHECKSUM over the columns.
func ChecksumQuery(t Table, cols []string, key string, hasLow, hasHigh bool) string {
	return fmt.Sprintf("SELECT COUNT_BIG(*), ISNULL(CHECKSUM_AGG(BINARY_CHECKSUM(%s)), 0) FROM %s WHERE %s",
		quoteList(cols), t, rangeWhere(key, hasLow, hasHigh))
}

// DeleteChunk deletes at most @n rows of a key range; callers repeat it,
// one short transaction each, until it deletes fewer than @n rows, so the
// transaction log never holds more than one chunk.
func DeleteChunk(t Table, key string, hasLow, hasHigh bool) string {
	return fmt.Sprintf("DELETE TOP (@n) FROM %s WHERE %s", t, rangeWhere(key, hasLow, hasHigh))
}

// ExistsQuery tells whether a table has any row (reference tables are
// copied only into an empty table).
func ExistsQuery(t Table) string {
	return fmt.Sprintf("SELECT CASE WHEN EXISTS (SELECT 1 FROM %s) THEN 1 ELSE 0 END", t)
}

// Catalog queries (run in the database they describe).
const (
	// TablesQuery lists user tables with their columns in order.
	TablesQuery = `SELECT s.name, t.name, c.name, TYPE_NAME(c.user_type_id), c.column_id
FROM sys.tables AS t
JOIN sys.schemas AS s ON s.schema_id = t.schema_id
JOIN sys.columns AS c ON c.object_id = t.object_id
WHERE t.is_ms_shipped = 0 AND s.name NOT IN (N'__ShardManagement', N'fleetplan')
ORDER BY s.name, t.name, c.column_id`
	// PrimaryKeysQuery lists primary key columns in key order.
	PrimaryKeysQuery = `SELECT s.name, t.name, c.name
FROM sys.indexes AS i
JOIN sys.tables AS t ON t.object_id = i.object_id
JOIN sys.schemas AS s ON s.schema_id = t.schema_id
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.is_primary_key = 1 AND ic.key_ordinal > 0
ORDER BY s.name, t.name, ic.key_ordinal`
	// ForeignKeysQuery lists foreign keys (child table, parent table,
	// column pairs in order) from sys.foreign_keys: the copy order.
	ForeignKeysQuery = `SELECT cs.name, ct.name, fk.name, ps.name, pt.name, cc.name, pc.name
FROM sys.foreign_keys AS fk
JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.tables AS ct ON ct.object_id = fk.parent_object_id
JOIN sys.schemas AS cs ON cs.schema_id = ct.schema_id
JOIN sys.tables AS pt ON pt.object_id = fk.referenced_object_id
JOIN sys.schemas AS ps ON ps.schema_id = pt.schema_id
JOIN sys.columns AS cc ON cc.object_id = fkc.parent_object_id AND cc.column_id = fkc.parent_column_id
JOIN sys.columns AS pc ON pc.object_id = fkc.referenced_object_id AND pc.column_id = fkc.referenced_column_id
ORDER BY cs.name, ct.name, fk.name, fkc.constraint_column_id`
	// KeyIndexesQuery lists, for one table (@table, as schema.name), its
	// primary key and unique indexes with their leading key column: the
	// split-merge requirement is one whose leading column is the sharding key.
	KeyIndexesQuery = `SELECT i.name, i.is_primary_key, c.name
FROM sys.indexes AS i
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(@table) AND (i.is_primary_key = 1 OR i.is_unique = 1) AND i.has_filter = 0
ORDER BY i.is_primary_key DESC, i.name`
	// KeyIndexColumnsQuery lists the key columns of one index of @table.
	KeyIndexColumnsQuery = `SELECT c.name
FROM sys.indexes AS i
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(@table) AND i.name = @index AND ic.key_ordinal > 0
ORDER BY ic.key_ordinal`
	// DeleteTriggersQuery lists enabled DELETE triggers of @table: they
	// would fire on the source cleanup of a move (the split-merge service
	// refuses such tables too).
	DeleteTriggersQuery = `SELECT tr.name
FROM sys.triggers AS tr
JOIN sys.trigger_events AS te ON te.object_id = tr.object_id
WHERE tr.parent_id = OBJECT_ID(@table) AND tr.is_disabled = 0 AND te.type_desc = N'DELETE'
ORDER BY tr.name`
)

// Database operations. ALTER DATABASE takes no parameters, so names are
// quoted identifiers.

// SetReadOnlySQL sets a database READ_ONLY or READ_WRITE, rolling back
// open transactions of other sessions at once, so nothing is written after
// the freeze. It runs in the database's server (master or the database).
func SetReadOnlySQL(db string, readOnly bool) string {
	mode := "READ_WRITE"
	if readOnly {
		mode = "READ_ONLY"
	}
	return fmt.Sprintf("ALTER DATABASE %s SET %s WITH ROLLBACK IMMEDIATE", quoteName(db), mode)
}

// AddSecondarySQL creates a readable geo-secondary of db on partner (run in
// master of the primary's server). The secondary keeps the primary's name.
func AddSecondarySQL(db, partner string) string {
	return fmt.Sprintf("ALTER DATABASE %s ADD SECONDARY ON SERVER %s WITH (ALLOW_CONNECTIONS = ALL)", quoteName(db), quoteName(partner))
}

// RemoveSecondarySQL ends the geo-replication link of db to partner (run
// in master of the primary's server); the secondary becomes a standalone
// read-write database.
func RemoveSecondarySQL(db, partner string) string {
	return fmt.Sprintf("ALTER DATABASE %s REMOVE SECONDARY ON SERVER %s", quoteName(db), quoteName(partner))
}

// Server short name: "x" of "x.database.windows.net", as ADD SECONDARY
// ON SERVER and sys.dm_geo_replication_link_status name servers.
func serverShortName(host string) string {
	if i := strings.IndexByte(host, '.'); i > 0 {
		return host[:i]
	}
	return host
}

const (
	// LinkStatusQuery reads the geo-replication links of the current
	// database (primary or secondary) with their state and lag.
	LinkStatusQuery = `SELECT CONVERT(nvarchar(36), link_guid), partner_server, partner_database, replication_state_desc, role_desc, ISNULL(replication_lag_sec, -1), last_replication
FROM sys.dm_geo_replication_link_status`
	// OperationStatusQuery reads the asynchronous operations of one
	// database (@db), newest first (run in master).
	OperationStatusQuery = `SELECT CONVERT(nvarchar(36), operation_id), operation, state_desc, percent_complete, ISNULL(error_code, 0), ISNULL(error_desc, N''), start_time, last_modify_time
FROM sys.dm_operation_status
WHERE major_resource_id = @db
ORDER BY start_time DESC`
	// DatabaseQuery reads a database's read-only setting (run in master).
	DatabaseQuery = `SELECT is_read_only FROM sys.databases WHERE name = @db`
	// DatabasesQuery lists the user databases of a server (run in master).
	DatabasesQuery = `SELECT name FROM sys.databases WHERE database_id > 4 AND name <> N'master' ORDER BY name`
)

// Application locks: the fleet's run lock and the library's per-operation
// lock, both session-owned on a pinned connection, so they end with the
// session when the process dies.
const (
	// GetAppLockSQL takes @resource exclusively for the session, waiting
	// @timeout ms; the return code is >= 0 when granted, -1 on timeout.
	GetAppLockSQL = `DECLARE @r int;
EXEC @r = sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = @timeout, @DbPrincipal = 'public';
SELECT @r`
	// ReleaseAppLockSQL gives it back.
	ReleaseAppLockSQL = `EXEC sp_releaseapplock @Resource = @resource, @LockOwner = 'Session', @DbPrincipal = 'public'`
)

// Batch is one batch of a script: its text and the line it starts on.
type Batch struct {
	SQL  string
	Line int
}

// SplitBatches splits a script on GO separators as sqlcmd and SSMS do: a
// line holding only GO (any case, optionally a repeat count, optionally a
// trailing -- comment), outside strings, bracketed names and comments. GO
// n repeats the batch n times. Empty batches are dropped.
func SplitBatches(script string) ([]Batch, error) {
	var out []Batch
	var cur strings.Builder
	start := 1
	lines := strings.SplitAfter(script, "\n")
	st := scanState{}
	for i, line := range lines {
		lineNo := i + 1
		if st.clean() {
			if n, ok, err := goLine(line); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			} else if ok {
				if strings.TrimSpace(cur.String()) != "" {
					for r := 0; r < n; r++ {
						out = append(out, Batch{SQL: strings.TrimRight(cur.String(), "\r\n"), Line: start})
					}
				}
				cur.Reset()
				start = lineNo + 1
				continue
			}
		}
		if strings.TrimSpace(cur.String()) == "" && strings.TrimSpace(line) == "" {
			cur.Reset()
			start = lineNo + 1
			continue
		}
		if cur.Len() == 0 {
			start = lineNo
		}
		cur.WriteString(line)
		st.scan(line)
	}
	if st.inString || st.inBracket {
		return nil, fmt.Errorf("line %d: unterminated %s at the end of the script", len(lines), st.what())
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, Batch{SQL: strings.TrimRight(cur.String(), "\r\n"), Line: start})
	}
	return out, nil
}

// goLine reports whether a line is a GO separator, and its count.
func goLine(line string) (n int, ok bool, err error) {
	s := strings.TrimSpace(line)
	if i := strings.Index(s, "--"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) < 2 || !strings.EqualFold(s[:2], "go") {
		return 0, false, nil
	}
	rest := strings.TrimSpace(s[2:])
	if rest == "" {
		return 1, true, nil
	}
	if len(s) > 2 && s[2] != ' ' && s[2] != '\t' {
		return 0, false, nil // GOTO, GOVERNOR, ...
	}
	n, convErr := strconv.Atoi(rest)
	if convErr != nil {
		return 0, false, nil // "go something": not a separator, SQL Server will say what it is
	}
	if n < 1 {
		return 0, false, fmt.Errorf("GO %d: the repeat count must be at least 1", n)
	}
	return n, true, nil
}

// scanState follows strings, bracketed names and comments across lines.
type scanState struct {
	inString, inBracket bool
	comment             int // nesting depth of /* */ (T-SQL nests them)
}

func (s *scanState) clean() bool { return !s.inString && !s.inBracket && s.comment == 0 }

func (s *scanState) what() string {
	if s.inString {
		return "string literal"
	}
	return "bracketed name"
}

func (s *scanState) scan(line string) {
	for i := 0; i < len(line); i++ {
		ch := line[i]
		next := byte(0)
		if i+1 < len(line) {
			next = line[i+1]
		}
		switch {
		case s.comment > 0:
			if ch == '*' && next == '/' {
				s.comment--
				i++
			} else if ch == '/' && next == '*' {
				s.comment++
				i++
			}
		case s.inString:
			if ch == '\'' {
				if next == '\'' {
					i++
				} else {
					s.inString = false
				}
			}
		case s.inBracket:
			if ch == ']' {
				if next == ']' {
					i++
				} else {
					s.inBracket = false
				}
			}
		case ch == '-' && next == '-':
			return
		case ch == '/' && next == '*':
			s.comment++
			i++
		case ch == '\'':
			s.inString = true
		case ch == '[':
			s.inBracket = true
		}
	}
}

// fleetplan's own schema in the shard map manager database: run lock
// holders, the run journal and the lease of replicas. Never the library's
// __ShardManagement tables.
const (
	// EnsureStateSchemaSQL creates the schema and its tables when missing.
	EnsureStateSchemaSQL = `IF SCHEMA_ID(N'fleetplan') IS NULL EXEC(N'CREATE SCHEMA fleetplan');
IF OBJECT_ID(N'fleetplan.Holders', N'U') IS NULL
	CREATE TABLE fleetplan.Holders (
		Resource nvarchar(255) NOT NULL CONSTRAINT pkHolders PRIMARY KEY,
		Holder nvarchar(max) NOT NULL,
		Since datetime2(3) NOT NULL CONSTRAINT dfHoldersSince DEFAULT SYSUTCDATETIME());
IF OBJECT_ID(N'fleetplan.Runs', N'U') IS NULL
	CREATE TABLE fleetplan.Runs (
		RunId nvarchar(64) NOT NULL CONSTRAINT pkRuns PRIMARY KEY,
		Target nvarchar(128) NOT NULL,
		PlanJson nvarchar(max) NULL,
		Created datetime2(3) NOT NULL CONSTRAINT dfRunsCreated DEFAULT SYSUTCDATETIME());
IF OBJECT_ID(N'fleetplan.Journal', N'U') IS NULL
	CREATE TABLE fleetplan.Journal (
		RunId nvarchar(64) NOT NULL,
		Seq bigint NOT NULL,
		Record nvarchar(max) NOT NULL,
		CONSTRAINT pkJournal PRIMARY KEY (RunId, Seq),
		CONSTRAINT fkJournalRun FOREIGN KEY (RunId) REFERENCES fleetplan.Runs (RunId));`
	// UpsertHolderSQL records who holds a lock (in the holder's session).
	UpsertHolderSQL = `MERGE fleetplan.Holders WITH (HOLDLOCK) AS h
USING (SELECT @resource AS Resource, @holder AS Holder) AS n ON h.Resource = n.Resource
WHEN MATCHED THEN UPDATE SET Holder = n.Holder, Since = SYSUTCDATETIME()
WHEN NOT MATCHED THEN INSERT (Resource, Holder) VALUES (n.Resource, n.Holder);`
	// ReadHolderSQL reads it.
	ReadHolderSQL = `SELECT Holder FROM fleetplan.Holders WHERE Resource = @resource`
	// DeleteHolderSQL forgets it on release.
	DeleteHolderSQL = `DELETE FROM fleetplan.Holders WHERE Resource = @resource`
)

// Database administration, run in master of the database's server; the
// name is a parameter and QUOTENAME quotes it server-side. EXECUTE
// ('string') takes only literals and variables, so the statement is built
// in a variable first.
const (
	CreateDatabaseSQL = `IF DB_ID(@name) IS NULL
BEGIN
	DECLARE @create nvarchar(max) = N'CREATE DATABASE ' + QUOTENAME(@name);
	EXEC(@create);
END`
	// DropDatabaseSQL ends other sessions first where the server allows
	// it (SQL Server; Azure SQL Database ends them itself).
	DropDatabaseSQL = `IF DB_ID(@name) IS NOT NULL
BEGIN
	DECLARE @single nvarchar(max) = N'ALTER DATABASE ' + QUOTENAME(@name) + N' SET SINGLE_USER WITH ROLLBACK IMMEDIATE',
		@drop nvarchar(max) = N'DROP DATABASE ' + QUOTENAME(@name);
	BEGIN TRY EXEC(@single) END TRY BEGIN CATCH END CATCH;
	EXEC(@drop);
END`
	// EnsureScriptsSQL creates the table, in fleetplan's schema of the
	// database a script runs in, that records scripts by digest.
	EnsureScriptsSQL = `IF SCHEMA_ID(N'fleetplan') IS NULL EXEC(N'CREATE SCHEMA fleetplan');
IF OBJECT_ID(N'fleetplan.Scripts', N'U') IS NULL
	CREATE TABLE fleetplan.Scripts (
		Digest char(64) NOT NULL CONSTRAINT pkScripts PRIMARY KEY,
		Applied datetime2(3) NOT NULL CONSTRAINT dfScriptsApplied DEFAULT SYSUTCDATETIME());`
	// ScriptDigestSQL tells whether a script with @digest ran (locking the
	// key until the transaction ends, so two runners do not both run it).
	ScriptDigestSQL = `SELECT COUNT(*) FROM fleetplan.Scripts WITH (UPDLOCK, HOLDLOCK) WHERE Digest = @digest`
	// ScriptDigestReadSQL is the same without locks, for a read-only secondary.
	ScriptDigestReadSQL = `SELECT CASE WHEN OBJECT_ID(N'fleetplan.Scripts', N'U') IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM fleetplan.Scripts WHERE Digest = @digest) END`
	RecordScriptSQL     = `INSERT INTO fleetplan.Scripts (Digest) VALUES (@digest)`
)

// SizeQuery is the allocated size of the current database in bytes.
const SizeQuery = `SELECT CAST(ISNULL(SUM(CAST(size AS bigint)), 0) * 8192 AS bigint) FROM sys.database_files`

// Reads of the global shard map: plain SELECTs on the library's tables,
// readable rows only.
const (
	MapsQuery      = `SELECT ShardMapId, Name, ShardMapType, KeyType FROM __ShardManagement.ShardMapsGlobal ORDER BY Name`
	MapByNameQuery = `SELECT ShardMapId, Name, ShardMapType, KeyType FROM __ShardManagement.ShardMapsGlobal WHERE Name = @name`
	shardColumns   = `s.ShardId, s.Version, s.ShardMapId, s.Protocol, s.ServerName, s.Port, s.DatabaseName, s.Status, s.OperationId`
	ShardsQuery    = `SELECT ` + shardColumns + ` FROM __ShardManagement.ShardsGlobal AS s
WHERE s.ShardMapId = @map AND s.Readable = 1 ORDER BY s.ServerName, s.DatabaseName`
	mappingColumns = `m.MappingId, m.ShardMapId, m.ShardId, m.MinValue, m.MaxValue, m.Status, m.LockOwnerId, m.OperationId, s.ServerName, s.DatabaseName`
	mappingsFrom   = ` FROM __ShardManagement.ShardMappingsGlobal AS m
JOIN __ShardManagement.ShardsGlobal AS s ON s.ShardId = m.ShardId
WHERE m.ShardMapId = @map AND m.Readable = 1`
	MappingsQuery     = `SELECT ` + mappingColumns + mappingsFrom + ` ORDER BY m.MinValue`
	MappingByIDQuery  = `SELECT ` + mappingColumns + mappingsFrom + ` AND m.MappingId = @id`
	RangeMappingQuery = `SELECT ` + mappingColumns + mappingsFrom + ` AND m.MinValue <= @key AND (m.MaxValue IS NULL OR m.MaxValue > @key)`
	PointMappingQuery = `SELECT ` + mappingColumns + mappingsFrom + ` AND m.MinValue = @key`
	SchemaInfoQuery   = `SELECT CONVERT(nvarchar(max), SchemaInfo) FROM __ShardManagement.ShardedDatabaseSchemaInfosGlobal WHERE Name = @name`
	LogRowsQuery      = `SELECT OperationId, OperationCode, CONVERT(nvarchar(max), Data), UndoStartState, ShardVersionRemoves, ShardVersionAdds FROM __ShardManagement.OperationsLogGlobal ORDER BY OperationId`
	// LocalDeployedQuery tells whether a database has the library's local
	// shard map (its version table and its bulk procedure).
	LocalDeployedQuery = `SELECT CASE WHEN OBJECT_ID(N'__ShardManagement.ShardMapManagerLocal', N'U') IS NOT NULL
	AND OBJECT_ID(N'__ShardManagement.spBulkOperationShardMappingsLocal', N'P') IS NOT NULL THEN 1 ELSE 0 END`
	LocalShardsQuery   = `SELECT ShardId, Version FROM __ShardManagement.ShardsLocal WHERE ShardMapId = @map`
	LocalMappingsQuery = `SELECT MappingId, ShardId, MinValue, MaxValue, Status FROM __ShardManagement.ShardMappingsLocal WHERE ShardMapId = @map ORDER BY MinValue`
)

// callProcSQL calls one of the library's procedures as the library does:
// the request document in @input (xml), the store result in @result.
func callProcSQL(proc string) string {
	return `EXEC ` + proc + ` @input = @input, @result = @result OUTPUT`
}

// The state backend's statements (fleetplan.Runs and fleetplan.Journal).
const (
	// SaveRunSQL records a run and its plan; a run pushed again keeps its
	// row and gets the plan it has now.
	SaveRunSQL = `MERGE fleetplan.Runs WITH (HOLDLOCK) AS r
USING (SELECT @run AS RunId) AS n ON r.RunId = n.RunId
WHEN MATCHED THEN UPDATE SET PlanJson = @plan
WHEN NOT MATCHED THEN INSERT (RunId, Target, PlanJson) VALUES (@run, @target, @plan);`
	// JournalCountSQL counts a run's stored records, locking the count so
	// two writers of one run append in turn.
	JournalCountSQL = `SELECT COUNT_BIG(*) FROM fleetplan.Journal WITH (UPDLOCK, HOLDLOCK) WHERE RunId = @run`
	// AppendJournalSQL stores one record at its place.
	AppendJournalSQL = `INSERT INTO fleetplan.Journal (RunId, Seq, Record) VALUES (@run, @seq, @record)`
	// ReadRunSQL reads a run's plan.
	ReadRunSQL = `SELECT Target, ISNULL(PlanJson, N'') FROM fleetplan.Runs WHERE RunId = @run`
	// ReadJournalSQL reads a run's records in order.
	ReadJournalSQL = `SELECT Record FROM fleetplan.Journal WHERE RunId = @run ORDER BY Seq`
	// RunsQuery lists the stored runs with their record counts.
	RunsQuery = `SELECT r.RunId, r.Target, r.Created, (SELECT COUNT_BIG(*) FROM fleetplan.Journal AS j WHERE j.RunId = r.RunId)
FROM fleetplan.Runs AS r ORDER BY r.Created, r.RunId`
	// LeaseHeldSQL tells whether this session still holds an application
	// lock (APPLOCK_MODE of the session owner).
	LeaseHeldSQL = `SELECT APPLOCK_MODE(N'public', @resource, N'Session')`
)
