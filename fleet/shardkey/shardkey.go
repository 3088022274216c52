package shardkey

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/google/uuid"
)

// ErrDateTimeOffset marks a datetime key written with an offset other than
// Z. The Elastic Database library keys a DateTime by its wall-clock ticks and
// ignores its Kind, so an offset has no meaning there and is refused rather
// than applied. It wraps fleet.ErrInvalidArgument.
var ErrDateTimeOffset = fmt.Errorf("%w: a datetime key takes no offset (the library keys its wall clock)", fleet.ErrInvalidArgument)

// MaxBinaryLen is the longest Binary key (varbinary(128)).
const MaxBinaryLen = 128

// Ticks are .NET ticks: 100 ns units.
const tickNs = 100

// epochTicks is the number of ticks from 0001-01-01 to 1970-01-01 (UTC).
const epochTicks int64 = 621355968000000000

// MaxDateTimeTicks is DateTime.MaxValue.Ticks (9999-12-31T23:59:59.9999999).
const MaxDateTimeTicks int64 = 3155378975999999999

// maxOffsetTicks is the largest DateTimeOffset offset: 14 hours.
const maxOffsetTicks int64 = 14 * 3600 * 10_000_000

// TimeSpan is a .NET TimeSpan: a signed count of ticks (100 ns). time.Duration
// cannot hold TimeSpan.MinValue/MaxValue (it counts nanoseconds), so TimeSpan
// keys use this type; Encode also accepts a time.Duration that is a whole
// number of ticks.
type TimeSpan int64

// Duration converts to a time.Duration, saturating outside its range.
func (t TimeSpan) Duration() time.Duration {
	if int64(t) > math.MaxInt64/tickNs {
		return time.Duration(math.MaxInt64)
	}
	if int64(t) < math.MinInt64/tickNs {
		return time.Duration(math.MinInt64)
	}
	return time.Duration(int64(t) * tickNs)
}

// MinTimeSpan is TimeSpan.MinValue, the minimum (encoded as the empty key).
const MinTimeSpan = TimeSpan(math.MinInt64)

// DateTimeOffset is a .NET DateTimeOffset: an instant plus the offset from
// UTC it was expressed in. SQL Server orders the encoding by instant, then
// offset, so the same instant with two offsets is two keys.
type DateTimeOffset struct {
	UTC    time.Time     // the instant; its location is ignored
	Offset time.Duration // whole minutes, within ±14h
}

// DateTimeOffsetOf takes the instant and zone offset of t.
func DateTimeOffsetOf(t time.Time) DateTimeOffset {
	_, off := t.Zone()
	return DateTimeOffset{UTC: t.UTC(), Offset: time.Duration(off) * time.Second}
}

// Time returns the instant in a fixed zone of the offset.
func (d DateTimeOffset) Time() time.Time {
	return d.UTC.In(time.FixedZone("", int(d.Offset/time.Second)))
}

// MinDateTime is DateTime.MinValue, 0001-01-01T00:00:00 (the empty key).
var MinDateTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// wallClock returns t's wall-clock reading (date and time in its own
// location) as a UTC time: what .NET's DateTime.Ticks counts whatever the Kind.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// ticksOf returns the .NET ticks of t's UTC instant.
func ticksOf(t time.Time) (int64, error) {
	u := t.UTC()
	secs := u.Unix()
	// Range check before multiplying: year 1 .. year 9999.
	if secs < -epochTicks/10_000_000 || u.Year() > 9999 {
		return 0, fmt.Errorf("%w: %s is outside DateTime's range (0001-01-01 .. 9999-12-31)", fleet.ErrInvalidArgument, t.Format(time.RFC3339Nano))
	}
	if u.Nanosecond()%tickNs != 0 {
		return 0, fmt.Errorf("%w: %s is finer than 100 ns (a DateTime tick)", fleet.ErrInvalidArgument, t.Format(time.RFC3339Nano))
	}
	return secs*10_000_000 + epochTicks + int64(u.Nanosecond()/tickNs), nil
}

// timeOf converts ticks (0 .. MaxDateTimeTicks) to a UTC time.
func timeOf(ticks int64) (time.Time, error) {
	if ticks < 0 || ticks > MaxDateTimeTicks {
		return time.Time{}, fmt.Errorf("%w: %d ticks is outside DateTime's range", fleet.ErrInvalidArgument, ticks)
	}
	rel := ticks - epochTicks
	secs := rel / 10_000_000
	rem := rel % 10_000_000
	if rem < 0 {
		rem += 10_000_000
		secs--
	}
	return time.Unix(secs, rem*tickNs).UTC(), nil
}

func encodeInt32(v int32) []byte {
	if v == math.MinInt32 {
		return []byte{}
	}
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(v))
	b[0] ^= 0x80
	return b
}

func encodeInt64(v int64) []byte {
	if v == math.MinInt64 {
		return []byte{}
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	b[0] ^= 0x80
	return b
}

func decodeInt64(b []byte) int64 {
	if len(b) == 0 {
		return math.MinInt64
	}
	var c [8]byte
	copy(c[:], b)
	c[0] ^= 0x80
	return int64(binary.BigEndian.Uint64(c[:]))
}

// guidOrder maps encoded position -> RFC-4122 byte index (SQL Server
// uniqueidentifier order: node bytes first, then clock_seq, then the
// little-endian .NET fields reversed back into big-endian order).
var guidOrder = [16]int{10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0}

func encodeGuid(u uuid.UUID) []byte {
	if u == uuid.Nil {
		return []byte{}
	}
	b := make([]byte, 16)
	for i, src := range guidOrder {
		b[i] = u[src]
	}
	return b
}

func decodeGuid(b []byte) uuid.UUID {
	var u uuid.UUID
	if len(b) == 0 {
		return u
	}
	for i, src := range guidOrder {
		u[src] = b[i]
	}
	return u
}

func encodeBinary(v []byte) ([]byte, error) {
	end := len(v)
	for end > 0 && v[end-1] == 0 {
		end--
	}
	if end > MaxBinaryLen {
		return nil, fmt.Errorf("%w: binary key of %d bytes is longer than %d", fleet.ErrInvalidArgument, end, MaxBinaryLen)
	}
	return append([]byte{}, v[:end]...), nil
}

// toInt64 accepts every Go integer type and integral floats (JSON numbers).
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float64:
		if x == math.Trunc(x) && x >= -(1<<63) && x < (1<<63) {
			return int64(x), true
		}
	}
	return 0, false
}

func wrongType(k fleet.KeyType, v any) error {
	return fmt.Errorf("%w: a %s key cannot be a %T (%v)", fleet.ErrInvalidArgument, k, v, v)
}

// Encode returns the stored form of a key value. Accepted Go values:
//   - int32, int64: any Go integer type (or an integral float64) in range;
//   - guid: uuid.UUID (RFC-4122 byte order in memory) or its text;
//   - binary: []byte (trailing zero bytes are dropped, at most 128 bytes remain);
//   - datetime: time.Time, taken as its wall clock in its own location (the
//     library keys DateTime.Ticks and ignores Kind), 100 ns resolution;
//   - timespan: TimeSpan ticks, or a time.Duration that is whole ticks;
//   - datetimeoffset: DateTimeOffset or a time.Time (instant and zone offset);
//     the minimum instant is the empty key whatever the offset, as the library.
//
// Each type's minimum encodes to the empty slice; nil is never returned for a
// value (+inf is not a value).
func Encode(k fleet.KeyType, v any) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: a %s key value is required (nil is +inf, not a value)", fleet.ErrInvalidArgument, k)
	}
	switch k {
	case fleet.KeyInt32:
		n, ok := toInt64(v)
		if !ok {
			return nil, wrongType(k, v)
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%w: %d does not fit an int32 key", fleet.ErrInvalidArgument, n)
		}
		return encodeInt32(int32(n)), nil
	case fleet.KeyInt64:
		n, ok := toInt64(v)
		if !ok {
			return nil, wrongType(k, v)
		}
		return encodeInt64(n), nil
	case fleet.KeyGuid:
		switch x := v.(type) {
		case uuid.UUID:
			return encodeGuid(x), nil
		case string:
			u, err := uuid.Parse(x)
			if err != nil {
				return nil, fmt.Errorf("%w: guid key %q: %v", fleet.ErrInvalidArgument, x, err)
			}
			return encodeGuid(u), nil
		}
		return nil, wrongType(k, v)
	case fleet.KeyBinary:
		b, ok := v.([]byte)
		if !ok {
			return nil, wrongType(k, v)
		}
		return encodeBinary(b)
	case fleet.KeyDateTime:
		t, ok := v.(time.Time)
		if !ok {
			return nil, wrongType(k, v)
		}
		// The library keys value.Ticks, the wall clock, and ignores Kind
		// (ShardKey.cs Normalize(DateTime)).
		ticks, err := ticksOf(wallClock(t))
		if err != nil {
			return nil, err
		}
		if ticks == 0 {
			return []byte{}, nil
		}
		return encodeInt64(ticks), nil
	case fleet.KeyTimeSpan:
		var ticks int64
		switch x := v.(type) {
		case TimeSpan:
			ticks = int64(x)
		case time.Duration:
			if x%tickNs != 0 {
				return nil, fmt.Errorf("%w: %s is finer than 100 ns (a TimeSpan tick)", fleet.ErrInvalidArgument, x)
			}
			ticks = int64(x / tickNs)
		default:
			return nil, wrongType(k, v)
		}
		return encodeInt64(ticks), nil
	case fleet.KeyDateTimeOffset:
		var d DateTimeOffset
		switch x := v.(type) {
		case DateTimeOffset:
			d = x
		case time.Time:
			d = DateTimeOffsetOf(x)
		default:
			return nil, wrongType(k, v)
		}
		return encodeDTO(d)
	}
	return nil, fmt.Errorf("%w: unknown key type %d", fleet.ErrInvalidArgument, int(k))
}

func encodeDTO(d DateTimeOffset) ([]byte, error) {
	if d.Offset%time.Minute != 0 || d.Offset > 14*time.Hour || d.Offset < -14*time.Hour {
		return nil, fmt.Errorf("%w: DateTimeOffset offset %s must be whole minutes within ±14h", fleet.ErrInvalidArgument, d.Offset)
	}
	utc, err := ticksOf(d.UTC)
	if err != nil {
		return nil, err
	}
	off := int64(d.Offset / tickNs)
	local := utc + off
	if local < 0 || local > MaxDateTimeTicks {
		return nil, fmt.Errorf("%w: DateTimeOffset local time is outside DateTime's range", fleet.ErrInvalidArgument)
	}
	// The library compares with DateTimeOffset.MinValue, and DateTimeOffset
	// equality is by UtcTicks: the minimum instant is empty at any offset.
	if utc == 0 {
		return []byte{}, nil
	}
	out := make([]byte, 0, 16)
	out = append(out, encodeInt64(utc)...)
	return append(out, encodeInt64(off)...), nil
}

// fixedLen is the encoded length of fixed-width key types (Binary: 0).
func fixedLen(k fleet.KeyType) int {
	switch k {
	case fleet.KeyInt32:
		return 4
	case fleet.KeyInt64, fleet.KeyDateTime, fleet.KeyTimeSpan:
		return 8
	case fleet.KeyGuid, fleet.KeyDateTimeOffset:
		return 16
	}
	return 0
}

// Validate checks that b is a well-formed stored key of type k (nil = +inf
// and empty = min are always valid).
func Validate(k fleet.KeyType, b []byte) error {
	_, err := Decode(k, b)
	return err
}

// Decode returns the Go value of a stored key: nil for +inf (b == nil), the
// type's minimum for the empty key (math.MinInt64, uuid.Nil, MinDateTime,
// MinTimeSpan, the zero DateTimeOffset at 0001-01-01 UTC, empty []byte).
// Values are int32, int64, uuid.UUID, []byte, time.Time (UTC), TimeSpan and
// DateTimeOffset.
func Decode(k fleet.KeyType, b []byte) (any, error) {
	if b == nil {
		return nil, nil
	}
	if !k.Valid() {
		return nil, fmt.Errorf("%w: unknown key type %d", fleet.ErrInvalidArgument, int(k))
	}
	if n := fixedLen(k); n > 0 && len(b) != 0 && len(b) != n {
		return nil, fmt.Errorf("%w: a stored %s key has %d bytes, want %d (or 0 for the minimum)", fleet.ErrInvalidArgument, k, len(b), n)
	}
	switch k {
	case fleet.KeyInt32:
		if len(b) == 0 {
			return int32(math.MinInt32), nil
		}
		c := []byte{b[0] ^ 0x80, b[1], b[2], b[3]}
		return int32(binary.BigEndian.Uint32(c)), nil
	case fleet.KeyInt64:
		return decodeInt64(b), nil
	case fleet.KeyGuid:
		return decodeGuid(b), nil
	case fleet.KeyBinary:
		if len(b) > MaxBinaryLen {
			return nil, fmt.Errorf("%w: a stored binary key has %d bytes, more than %d", fleet.ErrInvalidArgument, len(b), MaxBinaryLen)
		}
		return append([]byte{}, b...), nil
	case fleet.KeyDateTime:
		if len(b) == 0 {
			return MinDateTime, nil
		}
		return timeOf(decodeInt64(b))
	case fleet.KeyTimeSpan:
		return TimeSpan(decodeInt64(b)), nil
	case fleet.KeyDateTimeOffset:
		if len(b) == 0 {
			return DateTimeOffset{UTC: MinDateTime}, nil
		}
		utc, off := decodeInt64(b[:8]), decodeInt64(b[8:])
		if off%(60*10_000_000) != 0 || off > maxOffsetTicks || off < -maxOffsetTicks {
			return nil, fmt.Errorf("%w: stored DateTimeOffset has an invalid offset of %d ticks", fleet.ErrInvalidArgument, off)
		}
		t, err := timeOf(utc)
		if err != nil {
			return nil, err
		}
		if local := utc + off; local < 0 || local > MaxDateTimeTicks {
			return nil, fmt.Errorf("%w: stored DateTimeOffset local time is outside DateTime's range", fleet.ErrInvalidArgument)
		}
		return DateTimeOffset{UTC: t, Offset: time.Duration(off * tickNs)}, nil
	}
	return nil, fmt.Errorf("%w: unknown key type %d", fleet.ErrInvalidArgument, int(k))
}

// Compare orders two stored keys: unsigned byte order, with nil (+inf) the
// greatest. It returns -1, 0 or +1.
func Compare(a, b []byte) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return bytes.Compare(a, b)
}

// Next returns the smallest stored key greater than b (the library's
// GetNextKey): the fixed-width value plus one with carry (the empty minimum
// counts as all zeros; Binary is padded to 128 bytes first and its trailing
// zeros dropped again), +inf (nil) on overflow or when b is nil. For
// DateTimeOffset only the instant part is incremented; the offset is kept.
func Next(k fleet.KeyType, b []byte) []byte {
	if b == nil {
		return nil
	}
	if k == fleet.KeyDateTimeOffset {
		var inst, off []byte
		if len(b) == 16 {
			inst, off = b[:8], b[8:]
		} else {
			inst, off = nil, make([]byte, 8)
		}
		next := increment(inst, 8)
		if next == nil {
			return nil
		}
		return append(next, off...)
	}
	n := fixedLen(k)
	if k == fleet.KeyBinary {
		n = MaxBinaryLen
		r := increment(b, n)
		if r == nil {
			return nil
		}
		out, _ := encodeBinary(r)
		return out
	}
	return increment(b, n)
}

// increment adds one to b zero-padded to n bytes; nil on overflow.
func increment(b []byte, n int) []byte {
	c := make([]byte, n)
	copy(c, b)
	i := n - 1
	for ; i >= 0; i-- {
		c[i]++
		if c[i] != 0 {
			break
		}
	}
	if i < 0 {
		return nil
	}
	return c
}

// ParseText parses a key written by a user (plans, CLI) into its Go value:
//   - int32, int64: decimal;
//   - guid: any form uuid.Parse accepts;
//   - binary: hex, with or without a 0x prefix;
//   - datetime: RFC 3339, or 2006-01-02[T15:04:05[.fffffff]] as UTC; a stored
//     value with an offset is read as its UTC instant (EncodeText, for keys
//     people write, refuses the offset instead);
//   - timespan: [-][d.]hh:mm:ss[.fffffff] (.NET) or a Go duration ("1h30m");
//   - datetimeoffset: RFC 3339 with an offset (Z = +00:00).
func ParseText(k fleet.KeyType, s string) (any, error) {
	s = strings.TrimSpace(s)
	bad := func(err error) error {
		return fmt.Errorf("%w: %q is not a valid %s key: %v", fleet.ErrInvalidArgument, s, k, err)
	}
	switch k {
	case fleet.KeyInt32:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, bad(unwrapNum(err))
		}
		return int32(n), nil
	case fleet.KeyInt64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, bad(unwrapNum(err))
		}
		return n, nil
	case fleet.KeyGuid:
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, bad(err)
		}
		return u, nil
	case fleet.KeyBinary:
		h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, bad(err)
		}
		return b, nil
	case fleet.KeyDateTime:
		t, err := parseTime(s, true)
		if err != nil {
			return nil, bad(err)
		}
		if _, err := ticksOf(t); err != nil {
			return nil, err
		}
		return t.UTC(), nil
	case fleet.KeyTimeSpan:
		ts, err := parseTimeSpan(s)
		if err != nil {
			return nil, bad(err)
		}
		return ts, nil
	case fleet.KeyDateTimeOffset:
		t, err := parseTime(s, false)
		if err != nil {
			return nil, bad(err)
		}
		d := DateTimeOffsetOf(t)
		if _, err := encodeDTO(d); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("%w: unknown key type %d", fleet.ErrInvalidArgument, int(k))
}

// refuseOffset reports an RFC 3339 time with an offset other than zero
// (Z, +00:00 and -00:00 are the same wall clock as the UTC instant).
func refuseOffset(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if _, off := t.Zone(); err != nil || off == 0 {
		return nil
	}
	return fmt.Errorf("%w: %q has one; write its wall-clock time with Z (%s) or its instant in UTC (%s)",
		ErrDateTimeOffset, s, Format(fleet.KeyDateTime, wallClock(t)), Format(fleet.KeyDateTime, t.UTC()))
}

func unwrapNum(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

func parseTime(s string, zoneless bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if !zoneless {
		return time.Time{}, fmt.Errorf("want RFC 3339 with an offset, like 2024-01-02T15:04:05+01:00")
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02 15:04:05.9999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 or 2006-01-02[T15:04:05[.fffffff]]")
}

func parseTimeSpan(s string) (TimeSpan, error) {
	if !strings.Contains(s, ":") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, err
		}
		if d%tickNs != 0 {
			return 0, fmt.Errorf("finer than 100 ns")
		}
		return TimeSpan(d / tickNs), nil
	}
	neg := strings.HasPrefix(s, "-")
	rest := strings.TrimPrefix(s, "-")
	var days int64
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("want [-][d.]hh:mm:ss[.fffffff]")
	}
	if i := strings.Index(parts[0], "."); i >= 0 {
		d, err := strconv.ParseInt(parts[0][:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("days: %v", unwrapNum(err))
		}
		days = d
		parts[0] = parts[0][i+1:]
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	secPart, frac, _ := strings.Cut(parts[2], ".")
	sec, err3 := strconv.ParseInt(secPart, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || sec > 59 || h < 0 || m < 0 || sec < 0 {
		return 0, fmt.Errorf("want [-][d.]hh:mm:ss[.fffffff]")
	}
	var fracTicks int64
	if frac != "" {
		if len(frac) > 7 {
			return 0, fmt.Errorf("at most 7 fractional digits")
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 7-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("bad fraction %q", frac)
		}
		fracTicks = f
	}
	// days * 864e9 ticks must not overflow; the magnitude may be 2^63 when negative.
	const ticksPerDay = 864_000_000_000
	if days < 0 || days > math.MaxInt64/ticksPerDay+1 {
		return 0, fmt.Errorf("days out of range")
	}
	u := uint64(days)*ticksPerDay + uint64((h*3600+m*60+sec)*10_000_000+fracTicks)
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if u > limit {
		return 0, fmt.Errorf("out of range")
	}
	if neg {
		return TimeSpan(-int64(u-1) - 1), nil
	}
	return TimeSpan(int64(u)), nil
}

// Format renders a key value the way ParseText reads it back. nil is "+inf".
func Format(k fleet.KeyType, v any) string {
	if v == nil {
		return "+inf"
	}
	switch x := v.(type) {
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uuid.UUID:
		return x.String()
	case []byte:
		return "0x" + hex.EncodeToString(x)
	case time.Time:
		return wallClock(x).Format("2006-01-02T15:04:05.9999999Z07:00")
	case TimeSpan:
		return formatTimeSpan(x)
	case DateTimeOffset:
		return x.Time().Format("2006-01-02T15:04:05.9999999Z07:00")
	}
	if n, ok := toInt64(v); ok {
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprint(v)
}

func formatTimeSpan(t TimeSpan) string {
	n := int64(t)
	sign := ""
	var u uint64
	if n < 0 {
		sign = "-"
		u = uint64(-(n + 1)) + 1 // safe for MinInt64
	} else {
		u = uint64(n)
	}
	const tps = 10_000_000
	frac := u % tps
	secs := u / tps
	days := secs / 86400
	secs %= 86400
	out := sign
	if days > 0 {
		out += strconv.FormatUint(days, 10) + "."
	}
	out += fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		out += strings.TrimRight(fmt.Sprintf(".%07d", frac), "0")
	}
	return out
}

// FormatBound renders a stored bound for people: "-inf" for the empty
// minimum, "+inf" for nil, else the decoded value (or 0x-hex when it does not
// decode).
func FormatBound(k fleet.KeyType, b []byte) string {
	switch {
	case b == nil:
		return "+inf"
	case len(b) == 0:
		return "-inf"
	}
	v, err := Decode(k, b)
	if err != nil {
		return "0x" + hex.EncodeToString(b)
	}
	return Format(k, v)
}

// EncodeText parses and encodes a key written by a user. A datetime key
// with a non-zero offset is refused with ErrDateTimeOffset: the library
// keys the wall clock, so the offset would silently be dropped or applied.
// A key with white space around it is refused: trimming it would key
// something other than what is written.
func EncodeText(k fleet.KeyType, s string) ([]byte, error) {
	if strings.TrimSpace(s) != s || InnerSpace(s) {
		return nil, fmt.Errorf("%w: %q has white space in it; write the key without it (a datetime takes one space between date and time)", fleet.ErrInvalidArgument, s)
	}
	if k == fleet.KeyDateTime {
		if err := refuseOffset(s); err != nil {
			return nil, err
		}
	}
	v, err := ParseText(k, s)
	if err != nil {
		return nil, err
	}
	return Encode(k, v)
}

// InnerSpace reports whether a key's text holds white space other than the
// one space a datetime may have between its date and its time
// (2024-01-31 10:00:00). Time layouts match a run of spaces for one, so
// such text would otherwise be read as if written plainly.
func InnerSpace(s string) bool {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return false
	}
	if s[i] != ' ' || i != len("2006-01-02") {
		return true
	}
	return strings.IndexFunc(s[i+1:], unicode.IsSpace) >= 0
}

// Range decodes stored mapping bounds into a typed key range for data
// movement: the empty minimum becomes -inf (Low nil), nil Max stays +inf.
func Range(k fleet.KeyType, min, max []byte) (fleet.KeyRange, error) {
	var r fleet.KeyRange
	if len(min) > 0 {
		v, err := Decode(k, min)
		if err != nil {
			return r, err
		}
		r.Low = v
	}
	if max != nil {
		if len(max) == 0 {
			return r, fmt.Errorf("%w: an empty upper bound makes an empty range", fleet.ErrInvalidArgument)
		}
		v, err := Decode(k, max)
		if err != nil {
			return r, err
		}
		r.High = v
	}
	return r, nil
}
