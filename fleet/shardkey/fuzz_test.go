package shardkey

import (
	"bytes"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// roundTrip checks value -> bytes -> value -> bytes and that the encoding is
// canonical (only the minimum is empty; no trailing-zero ambiguity).
func roundTrip(t *testing.T, k fleet.KeyType, v any) []byte {
	t.Helper()
	b, err := Encode(k, v)
	if err != nil {
		return nil
	}
	back, err := Decode(k, b)
	if err != nil {
		t.Fatalf("Decode(Encode(%v)) = %x: %v", v, b, err)
	}
	b2, err := Encode(k, back)
	if err != nil {
		t.Fatalf("re-Encode(%v): %v", back, err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip of %v: %x then %x", v, b, b2)
	}
	text := Format(k, back)
	parsed, err := ParseText(k, text)
	if err != nil {
		t.Fatalf("ParseText(Format(%v) = %q): %v", back, text, err)
	}
	b3, err := Encode(k, parsed)
	if err != nil || !bytes.Equal(b, b3) {
		t.Fatalf("text round trip of %v via %q: %x then %x (%v)", v, text, b, b3, err)
	}
	return b
}

func FuzzRoundTripInt64(f *testing.F) {
	for _, s := range [][2]int64{{0, 1}, {-1, 0}, {-1 << 63, 50000}, {1<<63 - 1, -(1 << 62)}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b int64) {
		ea := roundTrip(t, fleet.KeyInt64, a)
		eb := roundTrip(t, fleet.KeyInt64, b)
		want := 0
		if a < b {
			want = -1
		} else if a > b {
			want = 1
		}
		if got := Compare(ea, eb); got != want {
			t.Fatalf("order of %d, %d: Compare = %d", a, b, got)
		}
		if a != 1<<63-1 {
			if n := Next(fleet.KeyInt64, ea); !bytes.Equal(n, encodeInt64(a+1)) {
				t.Fatalf("Next(%d) = %x", a, n)
			}
		}
	})
}

func FuzzRoundTripInt32(f *testing.F) {
	for _, s := range [][2]int32{{0, 1}, {-1, 0}, {-1 << 31, 7}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b int32) {
		ea := roundTrip(t, fleet.KeyInt32, a)
		eb := roundTrip(t, fleet.KeyInt32, b)
		want := 0
		if a < b {
			want = -1
		} else if a > b {
			want = 1
		}
		if got := Compare(ea, eb); got != want {
			t.Fatalf("order of %d, %d: Compare = %d", a, b, got)
		}
	})
}

func FuzzRoundTripGuid(f *testing.F) {
	f.Add(make([]byte, 16))
	f.Add(uuid.MustParse("a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf").NodeID())
	f.Fuzz(func(t *testing.T, raw []byte) {
		var u uuid.UUID
		copy(u[:], raw)
		b := roundTrip(t, fleet.KeyGuid, u)
		if u != uuid.Nil && len(b) != 16 {
			t.Fatalf("guid %s encoded to %d bytes", u, len(b))
		}
	})
}

func FuzzRoundTripBinary(f *testing.F) {
	f.Add([]byte{}, []byte{1})
	f.Add([]byte{1, 0}, []byte{1})
	f.Add([]byte{0xff, 0xff}, []byte{0xff, 0xfe, 1})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ea := roundTrip(t, fleet.KeyBinary, a)
		eb := roundTrip(t, fleet.KeyBinary, b)
		if ea == nil || eb == nil {
			return // too long: refused
		}
		if len(ea) > 0 && ea[len(ea)-1] == 0 {
			t.Fatalf("trailing zero kept: %x", ea)
		}
		if n := Next(fleet.KeyBinary, ea); n != nil && Compare(n, ea) <= 0 {
			t.Fatalf("Next(%x) = %x is not greater", ea, n)
		}
		_ = eb
	})
}

func FuzzRoundTripDateTime(f *testing.F) {
	f.Add(int64(0), int16(0))
	f.Add(int64(599266080000000000), int16(120)) // 1900-01-01 at +02:00
	f.Add(MaxDateTimeTicks, int16(-300))
	f.Fuzz(func(t *testing.T, ticks int64, zoneMinutes int16) {
		if ticks < 0 || ticks > MaxDateTimeTicks {
			if _, err := Decode(fleet.KeyDateTime, encodeInt64(ticks)); err == nil && ticks != -1<<63 {
				t.Fatalf("ticks %d outside DateTime range decoded without error", ticks)
			}
			return
		}
		tm, err := timeOf(ticks)
		if err != nil {
			t.Fatal(err)
		}
		b := roundTrip(t, fleet.KeyDateTime, tm)
		if ticks == 0 {
			if len(b) != 0 {
				t.Fatalf("DateTime.MinValue encoded to %x", b)
			}
			return
		}
		if !bytes.Equal(b, encodeInt64(ticks)) {
			t.Fatalf("ticks %d encoded to %x", ticks, b)
		}
		// The same wall clock in any zone is the same key: the library
		// keys DateTime.Ticks and ignores Kind (ShardKey.cs:1144).
		zone := time.FixedZone("", int(zoneMinutes%(14*60))*60)
		local := time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), zone)
		if lb, err := Encode(fleet.KeyDateTime, local); err != nil || !bytes.Equal(lb, b) {
			t.Fatalf("%v in zone %v encoded to %x (%v), want %x", tm, zone, lb, err, b)
		}
	})
}

func FuzzRoundTripTimeSpan(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(36_000_000_000))
	f.Add(int64(-1 << 63))
	f.Fuzz(func(t *testing.T, ticks int64) {
		b := roundTrip(t, fleet.KeyTimeSpan, TimeSpan(ticks))
		if b == nil {
			t.Fatalf("TimeSpan %d refused", ticks)
		}
	})
}

func FuzzRoundTripDateTimeOffset(f *testing.F) {
	f.Add(int64(599266080000000000), int16(1))
	f.Add(int64(0), int16(0))
	f.Add(int64(636000000000000000), int16(-840))
	f.Fuzz(func(t *testing.T, utcTicks int64, offsetMinutes int16) {
		if utcTicks < 0 || utcTicks > MaxDateTimeTicks {
			return
		}
		tm, _ := timeOf(utcTicks)
		d := DateTimeOffset{UTC: tm, Offset: time.Duration(offsetMinutes) * time.Minute}
		b := roundTrip(t, fleet.KeyDateTimeOffset, d)
		if b != nil && len(b) != 0 && len(b) != 16 {
			t.Fatalf("dto encoded to %d bytes", len(b))
		}
		// DateTimeOffset.MinValue equality is by instant (ShardKey.cs:1180).
		if b != nil && (len(b) == 0) != (utcTicks == 0) {
			t.Fatalf("dto at utc ticks %d, offset %dm encoded to %x", utcTicks, offsetMinutes, b)
		}
	})
}

// FuzzDecodeRaw feeds arbitrary stored bytes: Decode must not panic, and what
// decodes must re-encode to the same bytes unless the input was a
// non-canonical spelling of the minimum or a Binary with trailing zeros.
func FuzzDecodeRaw(f *testing.F) {
	f.Add(uint8(2), []byte{0x80, 0, 0, 0, 0, 0, 0xc3, 0x50})
	f.Add(uint8(4), []byte{1, 0})
	f.Add(uint8(7), make([]byte, 16))
	f.Fuzz(func(t *testing.T, kt uint8, raw []byte) {
		k := fleet.KeyType(kt%8 + 0)
		v, err := Decode(k, raw)
		if err != nil || !k.Valid() {
			return
		}
		b, err := Encode(k, v)
		if err != nil {
			t.Fatalf("decoded %x to %v but cannot encode it: %v", raw, v, err)
		}
		if bytes.Equal(b, raw) {
			return
		}
		canonMin := len(b) == 0
		trailing := k == fleet.KeyBinary && bytes.Equal(b, bytes.TrimRight(raw, "\x00"))
		if !canonMin && !trailing {
			t.Fatalf("Decode/Encode(%s) changed %x into %x", k, raw, b)
		}
	})
}
