package fleet

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTableName(t *testing.T) {
	for in, want := range map[string]TableName{
		"OrderLines":       {Schema: "dbo", Name: "OrderLines"},
		"sales.OrderLines": {Schema: "sales", Name: "OrderLines"},
		"dbo.customers":    {Schema: "dbo", Name: "customers"},
		"_t1@$#":           {Schema: "dbo", Name: "_t1@$#"},
		"ventes.Lignes_é":  {Schema: "ventes", Name: "Lignes_é"},
	} {
		got, err := ParseTableName(in)
		if err != nil || got != want {
			t.Errorf("ParseTableName(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"":                       "empty",
		"  ":                     "empty",
		"db.sales.orders":        "3 parts",
		"sales.":                 "part of the name is empty",
		".orders":                "part of the name is empty",
		"1orders":                "starts with",
		"[sales].[orders]":       "quoted identifiers",
		`"orders"`:               "quoted identifiers",
		"order lines":            "holds ' '",
		"#temp":                  "starts with",
		"orders;drop":            "holds ';'",
		strings.Repeat("a", 129): "at most 128",
	} {
		_, err := ParseTableName(in)
		if !errors.Is(err, ErrBadTableName) || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseTableName(%q) = %v, want an error saying %q", in, err, why)
		}
	}
}

func TestTableNameForms(t *testing.T) {
	for in, want := range map[string][2]string{ // Short, Key
		"OrderLines":       {"OrderLines", "dbo.orderlines"},
		"DBO.OrderLines":   {"OrderLines", "dbo.orderlines"},
		"sales.OrderLines": {"sales.OrderLines", "sales.orderlines"},
	} {
		n, err := ParseTableName(in)
		if err != nil {
			t.Fatal(err)
		}
		if n.Short() != want[0] || n.Key() != want[1] {
			t.Errorf("%q: Short %q, Key %q; want %q", in, n.Short(), n.Key(), want)
		}
	}
	if !SameTable("dbo.Orders", "orders") || SameTable("sales.Orders", "Orders") {
		t.Error("SameTable: dbo.Orders is orders, sales.Orders is not Orders")
	}
	if ShortTable("order lines") != "order lines" {
		t.Error("ShortTable changes a name it cannot parse")
	}
}

// Whatever the input, ParseTableName does not panic, and a name it accepts
// reads back the same from its String and Short forms.
func FuzzParseTableName(f *testing.F) {
	for _, s := range []string{"orders", "sales.OrderLines", "a.b.c", "", ".", "[x]", "é.ü", "x\x00y", strings.Repeat("z", 128)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseTableName(s)
		if err != nil {
			if !errors.Is(err, ErrBadTableName) {
				t.Fatalf("%q: error %v is not ErrBadTableName", s, err)
			}
			return
		}
		if n.Schema == "" || n.Name == "" || strings.Contains(n.Name, ".") || strings.Contains(n.Schema, ".") {
			t.Fatalf("%q parsed to %+v", s, n)
		}
		for _, form := range []string{n.String(), n.Short()} {
			again, err := ParseTableName(form)
			if err != nil || again.Key() != n.Key() {
				t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, n, form, again, err)
			}
		}
	})
}
