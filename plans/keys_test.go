package plans

import (
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	cases := map[string]struct {
		keyType, text string
		want          any
		wantErr       bool
	}{
		"int32":              {KeyInt32, "-5", int32(-5), false},
		"int32 overflow":     {KeyInt32, "2147483648", nil, true},
		"int64":              {KeyInt64, "9223372036854775807", int64(9223372036854775807), false},
		"int64 not a number": {KeyInt64, "1.5", nil, true},
		"binary trims zeros": {KeyBinary, "0x0100", "\x01", false},
		"binary odd":         {KeyBinary, "0x123", nil, true},
		"binary no prefix":   {KeyBinary, "0102", nil, true},
		"datetime date":      {KeyDateTime, "2024-01-31", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), false},
		"datetime rfc3339":   {KeyDateTime, "2024-01-31T10:00:00Z", time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC), false},
		"datetime no zone":   {KeyDateTime, "2024-01-31T10:00:00", time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC), false},
		"datetime offset":    {KeyDateTime, "2024-01-31T10:00:00+02:00", nil, true},
		"datetime minus":     {KeyDateTime, "2024-01-31T10:00:00-05:00", nil, true},
		"datetime +00:00":    {KeyDateTime, "2024-01-31T10:00:00+00:00", time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC), false},
		"datetime -00:00":    {KeyDateTime, "2024-01-31T10:00:00-00:00", time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC), false},
		"datetime +00:30":    {KeyDateTime, "2024-01-31T10:00:00+00:30", nil, true},
		"dto +00:00 is Z":    {KeyDateTimeOffset, "2024-01-31T10:00:00+00:00", DateTimeOffset{UTC: time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC)}, false},
		"int leading space":  {KeyInt64, " 100", nil, true},
		"int trailing tab":   {KeyInt32, "100\t", nil, true},
		"block line break":   {KeyInt64, "100\n", nil, true},
		"no-break space":     {KeyInt64, "100\u00a0", nil, true},
		"blank":              {KeyInt64, "  ", nil, true},
		"guid spaced":        {KeyGUID, " 0b0f6a2e-8c1d-4e2f-9a3b-5c6d7e8f9a0b", nil, true},
		"binary spaced":      {KeyBinary, "0x0a1b ", nil, true},
		"binary inner space": {KeyBinary, "0x0a 1b", nil, true},
		"datetime spaced":    {KeyDateTime, "2024-01-31 ", nil, true},
		"datetime two space": {KeyDateTime, "2024-01-31  10:00:00", nil, true},
		"datetime one space": {KeyDateTime, "2024-01-31 10:00:00", time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC), false},
		"dto spaced":         {KeyDateTimeOffset, "\t2024-01-31T10:00:00+02:00", nil, true},
		"datetime bad":       {KeyDateTime, "2024-13-01", nil, true},
		"timespan go":        {KeyTimeSpan, "1h30m", 90 * time.Minute, false},
		"timespan dotnet":    {KeyTimeSpan, "1.02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second, false},
		"timespan bad":       {KeyTimeSpan, "25:00:00", nil, true},
		"dto":                {KeyDateTimeOffset, "2024-01-31T10:00:00+02:00", DateTimeOffset{UTC: time.Date(2024, 1, 31, 8, 0, 0, 0, time.UTC), Offset: 2 * time.Hour}, false},
		"dto needs offset":   {KeyDateTimeOffset, "2024-01-31T10:00:00", nil, true},
		"guid bad":           {KeyGUID, "not-a-guid", nil, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			k, err := ParseKey(tc.keyType, tc.text)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseKey(%q) = %v, want error", tc.text, k.Value)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := k.Value
			if b, ok := got.([]byte); ok {
				got = string(b)
			}
			if tm, ok := got.(time.Time); ok {
				if !tm.Equal(tc.want.(time.Time)) {
					t.Errorf("got %v, want %v", tm, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			if k.Text != tc.text {
				t.Errorf("Text = %q, want %q", k.Text, tc.text)
			}
		})
	}
}

func TestCompareKeys(t *testing.T) {
	key := func(kt, s string) Key {
		k, err := ParseKey(kt, s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	cases := map[string]struct {
		keyType, a, b string
		want          int
	}{
		"int64":  {KeyInt64, "-1", "0", -1},
		"int32":  {KeyInt32, "7", "7", 0},
		"binary": {KeyBinary, "0x01", "0x0100", 0},
		// SQL Server orders uniqueidentifier by its last 6 bytes first: a guid
		// whose first byte is 1 sorts below one whose last byte is 1.
		"guid sql order":    {KeyGUID, "01000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001", -1},
		"guid clock seq":    {KeyGUID, "00000000-0000-0000-0100-000000000000", "00000000-0000-0000-0001-000000000000", 1},
		"dto same instant":  {KeyDateTimeOffset, "2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z", 1},
		"dto +00:00 and Z":  {KeyDateTimeOffset, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00Z", 0},
		"datetime +00:00":   {KeyDateTime, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00Z", 0},
		"timespan negative": {KeyTimeSpan, "-1h", "0s", -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := CompareKeys(key(tc.keyType, tc.a), key(tc.keyType, tc.b)); got != tc.want {
				t.Errorf("CompareKeys(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := CompareKeys(key(tc.keyType, tc.b), key(tc.keyType, tc.a)); got != -tc.want {
				t.Errorf("reverse = %d, want %d", got, -tc.want)
			}
		})
	}
}
