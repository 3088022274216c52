package shardkey

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	if s == "" {
		return []byte{}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The library's published vectors (ELASTICDB.md §3, ShardKeyInfo.cs).
func TestEncodeGolden(t *testing.T) {
	d1900 := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	dtMax, _ := timeOf(MaxDateTimeTicks)
	cases := map[string]struct {
		k    fleet.KeyType
		v    any
		want string // hex; "" = the empty minimum
	}{
		"int32 min":            {fleet.KeyInt32, int32(math.MinInt32), ""},
		"int32 min+1":          {fleet.KeyInt32, int32(-2147483647), "00000001"},
		"int32 -1":             {fleet.KeyInt32, int32(-1), "7fffffff"},
		"int32 0":              {fleet.KeyInt32, int32(0), "80000000"},
		"int32 1":              {fleet.KeyInt32, int32(1), "80000001"},
		"int32 max":            {fleet.KeyInt32, int32(math.MaxInt32), "ffffffff"},
		"int32 from int":       {fleet.KeyInt32, 100, "80000064"},
		"int64 min":            {fleet.KeyInt64, int64(math.MinInt64), ""},
		"int64 0":              {fleet.KeyInt64, int64(0), "8000000000000000"},
		"int64 -1":             {fleet.KeyInt64, int64(-1), "7fffffffffffffff"},
		"int64 50000":          {fleet.KeyInt64, int64(50000), "800000000000c350"},
		"int64 max":            {fleet.KeyInt64, int64(math.MaxInt64), "ffffffffffffffff"},
		"int64 from float":     {fleet.KeyInt64, float64(50000), "800000000000c350"},
		"guid":                 {fleet.KeyGuid, uuid.MustParse("a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf"), "aaabacadaeafa8a9a7a6a5a4a3a2a1a0"},
		"guid empty":           {fleet.KeyGuid, uuid.Nil, ""},
		"guid text":            {fleet.KeyGuid, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf", "aaabacadaeafa8a9a7a6a5a4a3a2a1a0"},
		"binary trailing zero": {fleet.KeyBinary, []byte{0x01, 0x00}, "01"},
		"binary all zero":      {fleet.KeyBinary, []byte{0, 0, 0}, ""},
		"binary inner zero":    {fleet.KeyBinary, []byte{0, 1, 0, 2}, "00010002"},
		"datetime min":         {fleet.KeyDateTime, MinDateTime, ""},
		"datetime tick 1":      {fleet.KeyDateTime, MinDateTime.Add(100 * time.Nanosecond), "8000000000000001"},
		"datetime 1900":        {fleet.KeyDateTime, d1900, "8851055320574000"},
		"datetime max":         {fleet.KeyDateTime, dtMax, "abca2875f4373fff"},
		"timespan 1h":          {fleet.KeyTimeSpan, TimeSpan(36_000_000_000), "8000000861c46800"},
		"timespan duration":    {fleet.KeyTimeSpan, time.Hour, "8000000861c46800"},
		"timespan min":         {fleet.KeyTimeSpan, MinTimeSpan, ""},
		"timespan -1 tick":     {fleet.KeyTimeSpan, TimeSpan(-1), "7fffffffffffffff"},
		"dto 1900 +00:01":      {fleet.KeyDateTimeOffset, DateTimeOffset{UTC: d1900, Offset: time.Minute}, "8851055320574000" + "8000000023c34600"},
		"dto from time":        {fleet.KeyDateTimeOffset, time.Date(1900, 1, 1, 0, 1, 0, 0, time.FixedZone("", 60)), "8851055320574000" + "8000000023c34600"},
		"dto min":              {fleet.KeyDateTimeOffset, DateTimeOffset{UTC: MinDateTime}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Encode(tc.k, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("Encode returned nil (+inf) for a value")
			}
			if want := mustHex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("Encode(%s, %v) = %x, want %x", tc.k, tc.v, got, want)
			}
		})
	}
}

func TestDecodeGolden(t *testing.T) {
	d1900 := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		k    fleet.KeyType
		b    []byte
		want any
	}{
		"nil is +inf":       {fleet.KeyInt64, nil, nil},
		"int32 empty":       {fleet.KeyInt32, []byte{}, int32(math.MinInt32)},
		"int32 -1":          {fleet.KeyInt32, mustHex(t, "7fffffff"), int32(-1)},
		"int64 50000":       {fleet.KeyInt64, mustHex(t, "800000000000c350"), int64(50000)},
		"int64 empty":       {fleet.KeyInt64, []byte{}, int64(math.MinInt64)},
		"guid":              {fleet.KeyGuid, mustHex(t, "aaabacadaeafa8a9a7a6a5a4a3a2a1a0"), uuid.MustParse("a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf")},
		"guid empty":        {fleet.KeyGuid, []byte{}, uuid.Nil},
		"binary":            {fleet.KeyBinary, []byte{1, 2}, []byte{1, 2}},
		"datetime 1900":     {fleet.KeyDateTime, mustHex(t, "8851055320574000"), d1900},
		"datetime empty":    {fleet.KeyDateTime, []byte{}, MinDateTime},
		"timespan 1h":       {fleet.KeyTimeSpan, mustHex(t, "8000000861c46800"), TimeSpan(36_000_000_000)},
		"dto":               {fleet.KeyDateTimeOffset, mustHex(t, "88510553205740008000000023c34600"), DateTimeOffset{UTC: d1900, Offset: time.Minute}},
		"dto empty is min":  {fleet.KeyDateTimeOffset, []byte{}, DateTimeOffset{UTC: MinDateTime}},
		"timespan empty":    {fleet.KeyTimeSpan, []byte{}, MinTimeSpan},
		"datetime tick one": {fleet.KeyDateTime, mustHex(t, "8000000000000001"), MinDateTime.Add(100)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(tc.k, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Key vectors for the library's DateTime and DateTimeOffset rules, derived
// from Azure/elastic-db-tools at b31d748 (2.4.2),
// Src/ElasticScale.Client/ShardManagement/Shard/ShardKey.cs:
//   - line 1144, Normalize(DateTime): `value == DateTime.MinValue` -> empty,
//     else Normalize(value.Ticks). DateTime.Ticks and DateTime equality are
//     the wall-clock ticks; Kind is ignored, so a Go time.Time is keyed by
//     its wall clock in its own location, not by its UTC instant.
//   - line 1178, Normalize(DateTimeOffset): `value == DateTimeOffset.MinValue`
//     -> empty, else Normalize(UtcTicks) followed by Normalize(Offset.Ticks).
//     DateTimeOffset equality compares UtcTicks only, so every value whose
//     instant is 0001-01-01T00:00Z (possible with a positive offset) is empty.
//   - line 1082, Normalize(long): big-endian with the top bit flipped.
func TestEncodeLibraryDateTime(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	minus5 := time.FixedZone("", -5*3600)
	cases := map[string]struct {
		k    fleet.KeyType
		v    any
		want string // hex; "" = the empty minimum
	}{
		// Ticks of 1900-01-01T01:00 = 599266116000000000.
		"datetime zone ignored":       {fleet.KeyDateTime, time.Date(1900, 1, 1, 1, 0, 0, 0, time.FixedZone("x", 3600)), "8851055b821ba800"},
		"datetime utc same wallclock": {fleet.KeyDateTime, time.Date(1900, 1, 1, 1, 0, 0, 0, time.UTC), "8851055b821ba800"},
		"datetime 2024 at +02:00":     {fleet.KeyDateTime, time.Date(2024, 1, 1, 0, 0, 0, 0, plus2), "88dc0a5c9900c000"},
		"datetime min at +02:00":      {fleet.KeyDateTime, time.Date(1, 1, 1, 0, 0, 0, 0, plus2), ""},
		"datetime max at -05:00":      {fleet.KeyDateTime, time.Date(9999, 12, 31, 23, 59, 59, 999999900, minus5), "abca2875f4373fff"},
		"dto min instant at +02:00":   {fleet.KeyDateTimeOffset, DateTimeOffset{UTC: MinDateTime, Offset: 2 * time.Hour}, ""},
		"dto min instant from time":   {fleet.KeyDateTimeOffset, time.Date(1, 1, 1, 2, 0, 0, 0, plus2), ""},
		"dto 2024 at +02:00":          {fleet.KeyDateTimeOffset, time.Date(2024, 1, 1, 0, 0, 0, 0, plus2), "88dc0a4bd577f000" + "80000010c388d000"},
		"dto one tick past min +02":   {fleet.KeyDateTimeOffset, DateTimeOffset{UTC: MinDateTime.Add(100), Offset: 2 * time.Hour}, "8000000000000001" + "80000010c388d000"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Encode(tc.k, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tc.want); got == nil || !bytes.Equal(got, want) {
				t.Fatalf("Encode(%s, %v) = %x, want %x", tc.k, tc.v, got, want)
			}
		})
	}
}

// Keys people write (plans, the CLI) must not carry an offset for a
// datetime key: the library would key the wall clock, fleetplan used to key
// the instant, and either reading silently moves the bound.
func TestEncodeTextDateTimeOffsetRefused(t *testing.T) {
	cases := map[string]struct {
		text    string
		want    string // hex when accepted
		refused bool
	}{
		"plus two":   {"2024-01-01T00:00:00+02:00", "", true},
		"minus five": {"2024-01-01T00:00:00-05:00", "", true},
		"half hour":  {"2024-01-01T00:00:00+00:30", "", true},
		"zero hours": {"2024-01-01T00:00:00+00:00", "88dc0a5c9900c000", false},
		"minus zero": {"2024-01-01T00:00:00-00:00", "88dc0a5c9900c000", false},
		"z":          {"2024-01-01T00:00:00Z", "88dc0a5c9900c000", false},
		"no offset":  {"2024-01-01T00:00:00", "88dc0a5c9900c000", false},
		"date":       {"2024-01-01", "88dc0a5c9900c000", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := EncodeText(fleet.KeyDateTime, tc.text)
			if tc.refused {
				if !errors.Is(err, ErrDateTimeOffset) || !errors.Is(err, fleet.ErrInvalidArgument) {
					t.Fatalf("EncodeText(%q) = %x, %v; want ErrDateTimeOffset", tc.text, got, err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, mustHex(t, tc.want)) {
				t.Fatalf("EncodeText(%q) = %x, %v; want %s", tc.text, got, err, tc.want)
			}
		})
	}
}

// A key written with white space around it is refused, not trimmed.
func TestEncodeTextSpaceRefused(t *testing.T) {
	cases := map[string]struct {
		k    fleet.KeyType
		text string
	}{
		"int leading":  {fleet.KeyInt64, " 100"},
		"int trailing": {fleet.KeyInt32, "100\n"},
		"guid":         {fleet.KeyGuid, "0b0f6a2e-8c1d-4e2f-9a3b-5c6d7e8f9a0b\t"},
		"binary":       {fleet.KeyBinary, "\u00a00x0a1b"},
		"datetime":     {fleet.KeyDateTime, " 2024-01-01T00:00:00+02:00"},
		"dto":          {fleet.KeyDateTimeOffset, "2024-01-01T00:00:00Z "},
		"timespan":     {fleet.KeyTimeSpan, " 1h"},
		"blank binary": {fleet.KeyBinary, " "},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := EncodeText(tc.k, tc.text)
			if !errors.Is(err, fleet.ErrInvalidArgument) || !strings.Contains(err.Error(), "white space") {
				t.Fatalf("EncodeText(%q) = %x, %v; want a white space refusal", tc.text, got, err)
			}
		})
	}
}

func TestEncodeDecodeErrors(t *testing.T) {
	cases := map[string]func() error{
		"int32 overflow":    func() error { _, err := Encode(fleet.KeyInt32, int64(math.MaxInt32)+1); return err },
		"int64 wrong type":  func() error { _, err := Encode(fleet.KeyInt64, "12"); return err },
		"nil value":         func() error { _, err := Encode(fleet.KeyInt64, nil); return err },
		"fractional float":  func() error { _, err := Encode(fleet.KeyInt64, 1.5); return err },
		"binary too long":   func() error { _, err := Encode(fleet.KeyBinary, bytes.Repeat([]byte{1}, 129)); return err },
		"datetime too fine": func() error { _, err := Encode(fleet.KeyDateTime, MinDateTime.Add(1)); return err },
		"datetime year 10000": func() error {
			_, err := Encode(fleet.KeyDateTime, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
			return err
		},
		"dto negative offset at min instant": func() error {
			_, err := Encode(fleet.KeyDateTimeOffset, DateTimeOffset{UTC: MinDateTime, Offset: -time.Hour})
			return err
		},
		"dto odd offset": func() error {
			_, err := Encode(fleet.KeyDateTimeOffset, DateTimeOffset{UTC: time.Now().Truncate(time.Second), Offset: 30 * time.Second})
			return err
		},
		"decode short int64":  func() error { _, err := Decode(fleet.KeyInt64, []byte{1, 2}); return err },
		"decode long int32":   func() error { _, err := Decode(fleet.KeyInt32, make([]byte, 8)); return err },
		"decode long binary":  func() error { _, err := Decode(fleet.KeyBinary, make([]byte, 129)); return err },
		"decode bad datetime": func() error { _, err := Decode(fleet.KeyDateTime, mustHex(t, "ffffffffffffffff")); return err },
		"decode dto offset": func() error {
			_, err := Decode(fleet.KeyDateTimeOffset, mustHex(t, "88510553205740008000000000000001"))
			return err
		},
		"unknown key type":    func() error { _, err := Encode(fleet.KeyType(9), 1); return err },
		"parse int32 range":   func() error { _, err := ParseText(fleet.KeyInt32, "2147483648"); return err },
		"parse int64 junk":    func() error { _, err := ParseText(fleet.KeyInt64, "12a"); return err },
		"parse guid":          func() error { _, err := ParseText(fleet.KeyGuid, "nope"); return err },
		"parse hex":           func() error { _, err := ParseText(fleet.KeyBinary, "0xzz"); return err },
		"parse dto no offset": func() error { _, err := ParseText(fleet.KeyDateTimeOffset, "2020-01-01"); return err },
		"parse timespan":      func() error { _, err := ParseText(fleet.KeyTimeSpan, "25:00:00"); return err },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			err := f()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, fleet.ErrInvalidArgument) {
				t.Fatalf("error %v is not ErrInvalidArgument", err)
			}
		})
	}
}

func TestParseTextFormat(t *testing.T) {
	cases := map[string]struct {
		k    fleet.KeyType
		in   string
		want string // Format of the parsed value
	}{
		"int32":          {fleet.KeyInt32, " -5 ", "-5"},
		"int64":          {fleet.KeyInt64, "50000", "50000"},
		"guid":           {fleet.KeyGuid, "A0A1A2A3-A4A5-A6A7-A8A9-AAABACADAEAF", "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf"},
		"binary 0x":      {fleet.KeyBinary, "0x0A0b", "0x0a0b"},
		"binary bare":    {fleet.KeyBinary, "ff", "0xff"},
		"datetime day":   {fleet.KeyDateTime, "1900-01-01", "1900-01-01T00:00:00Z"},
		"datetime frac":  {fleet.KeyDateTime, "2024-02-03T04:05:06.1234567", "2024-02-03T04:05:06.1234567Z"},
		"datetime zone":  {fleet.KeyDateTime, "2024-02-03T04:05:06+02:00", "2024-02-03T02:05:06Z"},
		"timespan net":   {fleet.KeyTimeSpan, "1.02:03:04.5", "1.02:03:04.5"},
		"timespan neg":   {fleet.KeyTimeSpan, "-01:00:00", "-01:00:00"},
		"timespan go":    {fleet.KeyTimeSpan, "90m", "01:30:00"},
		"dto":            {fleet.KeyDateTimeOffset, "1900-01-01T00:01:00+00:01", "1900-01-01T00:01:00+00:01"},
		"dto utc":        {fleet.KeyDateTimeOffset, "2020-05-06T07:08:09Z", "2020-05-06T07:08:09Z"},
		"timespan min":   {fleet.KeyTimeSpan, "-10675199.02:48:05.4775808", "-10675199.02:48:05.4775808"},
		"timespan max":   {fleet.KeyTimeSpan, "10675199.02:48:05.4775807", "10675199.02:48:05.4775807"},
		"int64 negative": {fleet.KeyInt64, "-9223372036854775808", "-9223372036854775808"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := ParseText(tc.k, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := Format(tc.k, v); got != tc.want {
				t.Fatalf("Format(ParseText(%q)) = %q, want %q", tc.in, got, tc.want)
			}
			// Format must parse back to the same encoding.
			v2, err := ParseText(tc.k, Format(tc.k, v))
			if err != nil {
				t.Fatal(err)
			}
			b1, err1 := Encode(tc.k, v)
			b2, err2 := Encode(tc.k, v2)
			if err1 != nil || err2 != nil || !bytes.Equal(b1, b2) {
				t.Fatalf("re-parse differs: %x %v / %x %v", b1, err1, b2, err2)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	cases := map[string]struct {
		a, b []byte
		want int
	}{
		"nil nil":        {nil, nil, 0},
		"nil greatest":   {nil, []byte{0xff}, 1},
		"value vs nil":   {[]byte{0xff, 0xff}, nil, -1},
		"empty smallest": {[]byte{}, []byte{0}, -1},
		"empty empty":    {[]byte{}, []byte{}, 0},
		"unsigned":       {[]byte{0x7f}, []byte{0x80}, -1},
		"prefix":         {[]byte{1}, []byte{1, 0, 1}, -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Compare(tc.a, tc.b); got != tc.want {
				t.Fatalf("Compare(%x, %x) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	pad := func(prefix string, last byte) string {
		b := make([]byte, MaxBinaryLen)
		copy(b, mustHex(t, prefix))
		b[MaxBinaryLen-1] = last
		return hex.EncodeToString(b)
	}
	cases := map[string]struct {
		k    fleet.KeyType
		in   []byte
		want []byte
	}{
		"int32 0 -> 1":      {fleet.KeyInt32, mustHex(t, "80000000"), mustHex(t, "80000001")},
		"int32 carry":       {fleet.KeyInt32, mustHex(t, "800000ff"), mustHex(t, "80000100")},
		"int32 max -> inf":  {fleet.KeyInt32, mustHex(t, "ffffffff"), nil},
		"int32 min":         {fleet.KeyInt32, []byte{}, mustHex(t, "00000001")},
		"int64 49999":       {fleet.KeyInt64, mustHex(t, "800000000000c34f"), mustHex(t, "800000000000c350")},
		"inf stays inf":     {fleet.KeyInt64, nil, nil},
		"binary pads":       {fleet.KeyBinary, mustHex(t, "1234"), mustHex(t, pad("1234", 1))},
		"guid":              {fleet.KeyGuid, mustHex(t, "aaabacadaeafa8a9a7a6a5a4a3a2a1a0"), mustHex(t, "aaabacadaeafa8a9a7a6a5a4a3a2a1a1")},
		"dto keeps offset":  {fleet.KeyDateTimeOffset, mustHex(t, "88510553205740008000000023c34600"), mustHex(t, "88510553205740018000000023c34600")},
		"timespan overflow": {fleet.KeyTimeSpan, mustHex(t, "ffffffffffffffff"), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Next(tc.k, tc.in)
			if (got == nil) != (tc.want == nil) || !bytes.Equal(got, tc.want) {
				t.Fatalf("Next(%x) = %x, want %x", tc.in, got, tc.want)
			}
		})
	}
}

func TestRange(t *testing.T) {
	cases := map[string]struct {
		min, max []byte
		want     fleet.KeyRange
		wantErr  bool
	}{
		"whole":   {[]byte{}, nil, fleet.KeyRange{}, false},
		"bounded": {mustHex(t, "8000000000000000"), mustHex(t, "800000000000c350"), fleet.KeyRange{Low: int64(0), High: int64(50000)}, false},
		"upper":   {mustHex(t, "800000000000c350"), nil, fleet.KeyRange{Low: int64(50000)}, false},
		"empty":   {[]byte{}, []byte{}, fleet.KeyRange{}, true},
		"bad len": {[]byte{1}, nil, fleet.KeyRange{}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Range(fleet.KeyInt64, tc.min, tc.max)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("Range = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFormatBound(t *testing.T) {
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"min":   {[]byte{}, "-inf"},
		"max":   {nil, "+inf"},
		"50000": {mustHex(t, "800000000000c350"), "50000"},
		"bad":   {[]byte{1}, "0x01"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := FormatBound(fleet.KeyInt64, tc.b); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
