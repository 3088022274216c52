package fleet

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultSchema is the schema of a table named without one, SQL Server's
// default schema.
const DefaultSchema = "dbo"

// maxIdentifier is SQL Server's sysname length: nvarchar(128).
const maxIdentifier = 128

// TableName is a table and its schema, as the Elastic Database library's
// SchemaInfo stores them (SchemaName, TableName): sales.OrderLines is not
// dbo.OrderLines.
type TableName struct {
	Schema string // never empty: DefaultSchema when the name has none
	Name   string
}

// ErrBadTableName marks a table name ParseTableName refuses.
var ErrBadTableName = errors.New("bad table name")

// ParseTableName reads "table" or "schema.table". Each part is a regular
// identifier as SQL Server defines it: a letter or _ first, then letters,
// digits, _, @, $ or #, at most 128 characters. Quoted identifiers
// ([a b], "a b") and three-part names (db.schema.table) are refused.
func ParseTableName(s string) (TableName, error) {
	parts := strings.Split(s, ".")
	switch {
	case strings.TrimSpace(s) == "":
		return TableName{}, fmt.Errorf("%w: the name is empty", ErrBadTableName)
	case len(parts) > 2:
		return TableName{}, fmt.Errorf("%w: %q has %d parts; name a table as table or schema.table (a database or server prefix is not allowed)", ErrBadTableName, s, len(parts))
	}
	for _, p := range parts {
		if err := checkIdentifier(p); err != nil {
			return TableName{}, fmt.Errorf("%w: %q: %v", ErrBadTableName, s, err)
		}
	}
	if len(parts) == 1 {
		return TableName{Schema: DefaultSchema, Name: parts[0]}, nil
	}
	return TableName{Schema: parts[0], Name: parts[1]}, nil
}

func checkIdentifier(p string) error {
	if p == "" {
		return errors.New("a part of the name is empty")
	}
	if !utf8.ValidString(p) {
		return errors.New("the name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(p); n > maxIdentifier {
		return fmt.Errorf("%d characters in %q, at most %d", n, p, maxIdentifier)
	}
	for i, r := range p {
		switch {
		case unicode.IsLetter(r) || r == '_':
		case i > 0 && (unicode.IsDigit(r) || r == '@' || r == '$' || r == '#'):
		case i == 0:
			return fmt.Errorf("%q starts with %q; an identifier starts with a letter or _ (quoted identifiers are not supported)", p, r)
		default:
			return fmt.Errorf("%q holds %q; an identifier has letters, digits, _, @, $ and # only (quoted identifiers are not supported)", p, r)
		}
	}
	return nil
}

// String is the name with its schema: sales.OrderLines, dbo.Customers.
func (n TableName) String() string { return n.Schema + "." + n.Name }

// Short is the name without its schema when that is dbo: OrderLines for
// dbo.OrderLines, sales.OrderLines otherwise. It is how tables are named in
// drivers' table lists, and the local driver's SQLite table name (SQLite
// has one schema: dbo's tables are named T, another schema's S.T, as one
// identifier).
func (n TableName) Short() string {
	if strings.EqualFold(n.Schema, DefaultSchema) {
		return n.Name
	}
	return n.String()
}

// Key is the name for comparing: two tables are one when their keys are
// equal (SQL Server's default collation and SQLite compare names
// case-insensitively).
func (n TableName) Key() string { return strings.ToLower(n.String()) }

// ShortTable is ParseTableName(name).Short(), or name as it is when it does
// not parse (a name the library stored that fleetplan cannot use: the
// driver then refuses it by name).
func ShortTable(name string) string {
	n, err := ParseTableName(name)
	if err != nil {
		return name
	}
	return n.Short()
}

// SameTable reports whether two names name one table (dbo.T and T do).
func SameTable(a, b string) bool { return TableKey(a) == TableKey(b) }

// TableKey is ParseTableName(name).Key(), or name in lower case when it
// does not parse.
func TableKey(name string) string {
	n, err := ParseTableName(name)
	if err != nil {
		return strings.ToLower(name)
	}
	return n.Key()
}
