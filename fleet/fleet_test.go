package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestSortTables(t *testing.T) {
	fk := func(parent string) []ForeignKey {
		return []ForeignKey{{Table: parent, From: []string{"x"}, To: []string{"id"}}}
	}
	cases := map[string]struct {
		in      []TableInfo
		want    []string
		wantErr bool
	}{
		"children listed first": {
			in:   []TableInfo{{Name: "orders", ForeignKeys: fk("customers")}, {Name: "customers", ForeignKeys: fk("regions")}, {Name: "regions"}},
			want: []string{"regions", "customers", "orders"},
		},
		"keeps order when free": {
			in:   []TableInfo{{Name: "b"}, {Name: "a"}, {Name: "c"}},
			want: []string{"b", "a", "c"},
		},
		"self reference and outside table ignored": {
			in:   []TableInfo{{Name: "tree", ForeignKeys: append(fk("tree"), fk("elsewhere")...)}, {Name: "x"}},
			want: []string{"tree", "x"},
		},
		"case-insensitive names": {
			in:   []TableInfo{{Name: "Orders", ForeignKeys: fk("CUSTOMERS")}, {Name: "customers"}},
			want: []string{"customers", "Orders"},
		},
		"cycle": {
			in:      []TableInfo{{Name: "a", ForeignKeys: fk("b")}, {Name: "b", ForeignKeys: fk("a")}},
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := SortTables(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("cycle error %v is not ErrInvalidArgument", err)
				}
				return
			}
			var names []string
			for _, t := range got {
				names = append(names, t.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Fatalf("order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoreResultIs(t *testing.T) {
	wrapped := &Error{Op: "find mapping", Err: ResultMappingNotFoundForKey}
	cases := map[string]struct {
		err    error
		target error
		want   bool
	}{
		"not found for key is ErrNotFound":   {wrapped, ErrNotFound, true},
		"not found for key is itself":        {wrapped, ResultMappingNotFoundForKey, true},
		"shard map missing is ErrNotFound":   {ResultShardMapDoesNotExist, ErrNotFound, true},
		"not offline is not ErrNotFound":     {ResultMappingNotOffline, ErrNotFound, false},
		"different results do not match":     {ResultMappingNotOffline, ResultMappingIsOffline, false},
		"schema info missing is ErrNotFound": {ResultSchemaInfoNameMissing, ErrNotFound, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := errors.Is(tc.err, tc.target); got != tc.want {
				t.Fatalf("errors.Is = %v, want %v", got, tc.want)
			}
		})
	}
	if got := ResultOf(wrapped); got != ResultMappingNotFoundForKey {
		t.Fatalf("ResultOf = %d", got)
	}
	if got := ResultOf(errors.New("x")); got != ResultUnexpectedStoreError {
		t.Fatalf("ResultOf(other) = %d", got)
	}
	if !strings.Contains(ResultMappingNotOffline.Error(), "306") {
		t.Fatalf("message lacks the code: %s", ResultMappingNotOffline.Error())
	}
}

type fakeTarget struct{ name string }

func (f fakeTarget) Name() string                 { return f.name }
func (fakeTarget) Driver() string                 { return "fake-test" }
func (fakeTarget) Close() error                   { return nil }
func (fakeTarget) Ping(ctx context.Context) error { return nil }

func TestRegistry(t *testing.T) {
	Register("fake-test", func(ctx context.Context, cfg TargetConfig) (Target, error) {
		return fakeTarget{name: cfg.Name}, nil
	})
	tg, err := Open(context.Background(), TargetConfig{Name: "x", Driver: "fake-test"})
	if err != nil || tg.Name() != "x" {
		t.Fatalf("Open = %v, %v", tg, err)
	}
	_, err = Open(context.Background(), TargetConfig{Name: "y", Driver: "nope"})
	if err == nil || !strings.Contains(err.Error(), "forgotten import?") || HintOf(err) == "" {
		t.Fatalf("unknown driver error = %v (hint %q)", err, HintOf(err))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate Register did not panic")
		}
	}()
	Register("fake-test", func(ctx context.Context, cfg TargetConfig) (Target, error) { return nil, nil })
}

func TestFingerprint(t *testing.T) {
	id := func(n byte) uuid.UUID { return uuid.UUID{n} }
	base := func() []MapLayout {
		return []MapLayout{{
			Map: ShardMap{ID: id(1), Name: "m", Type: RangeMap, KeyType: KeyInt64},
			Shards: []ShardState{
				{Shard: Shard{ID: id(2), Version: id(3)}, Exists: true, RowCounts: map[string]int64{"a": 1, "b": 2}},
				{Shard: Shard{ID: id(4), Version: id(5)}, Exists: true, RowCounts: map[string]int64{"a": 3}},
			},
			Mappings: []Mapping{{ID: id(6), ShardID: id(2), Min: []byte{}, Max: []byte{1}, Online: true}, {ID: id(7), ShardID: id(4), Min: []byte{1}, Online: true}},
		}}
	}
	ref := Fingerprint(base())
	cases := map[string]struct {
		mutate func([]MapLayout)
		same   bool
	}{
		"unchanged":         {func([]MapLayout) {}, true},
		"shard order":       {func(m []MapLayout) { m[0].Shards[0], m[0].Shards[1] = m[0].Shards[1], m[0].Shards[0] }, true},
		"mapping order":     {func(m []MapLayout) { m[0].Mappings[0], m[0].Mappings[1] = m[0].Mappings[1], m[0].Mappings[0] }, true},
		"row count":         {func(m []MapLayout) { m[0].Shards[0].RowCounts["a"] = 9 }, false},
		"shard version":     {func(m []MapLayout) { m[0].Shards[1].Shard.Version = id(9) }, false},
		"mapping offline":   {func(m []MapLayout) { m[0].Mappings[1].Online = false }, false},
		"lock owner":        {func(m []MapLayout) { m[0].Mappings[1].LockOwner = id(8) }, false},
		"bound":             {func(m []MapLayout) { m[0].Mappings[0].Max = []byte{2} }, false},
		"max becomes +inf":  {func(m []MapLayout) { m[0].Mappings[0].Max = nil }, false},
		"pending operation": {func(m []MapLayout) { m[0].Pending = []PendingOperation{{ID: id(9), Code: 14}} }, false},
		"database missing":  {func(m []MapLayout) { m[0].Shards[0].Exists = false }, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := base()
			tc.mutate(m)
			if got := Fingerprint(m) == ref; got != tc.same {
				t.Fatalf("fingerprint equal = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestParseKeyAndMapType(t *testing.T) {
	for k, n := range keyTypeNames {
		got, err := ParseKeyType(strings.ToUpper(n))
		if err != nil || got != k || k.String() != n {
			t.Fatalf("ParseKeyType(%q) = %v, %v", n, got, err)
		}
	}
	if _, err := ParseKeyType("float"); err == nil {
		t.Fatal("float accepted")
	}
	if m, err := ParseMapType("Range"); err != nil || m != RangeMap {
		t.Fatalf("ParseMapType = %v, %v", m, err)
	}
	if _, err := ParseMapType("hash"); err == nil {
		t.Fatal("hash accepted")
	}
}
