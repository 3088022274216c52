package plans

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// maxBinaryKey is the longest binary sharding key (varbinary(128)).
const maxBinaryKey = 128

// ParseKey parses a sharding key written in a plan for keyType. The error
// says what a valid key looks like.
func ParseKey(keyType, text string) (Key, error) {
	k := Key{Text: text}
	t := strings.TrimSpace(text)
	if t != text || shardkey.InnerSpace(text) {
		return k, spacedKey(keyType, text)
	}
	var err error
	switch keyType {
	case KeyInt32:
		var v int64
		v, err = strconv.ParseInt(t, 10, 32)
		k.Value = int32(v)
		if err != nil {
			err = fmt.Errorf("%q is not a valid int32 key (a whole number from %d to %d)", text, math.MinInt32, math.MaxInt32)
		}
	case KeyInt64:
		k.Value, err = strconv.ParseInt(t, 10, 64)
		if err != nil {
			err = fmt.Errorf("%q is not a valid int64 key (a whole number from %d to %d)", text, int64(math.MinInt64), int64(math.MaxInt64))
		}
	case KeyGUID:
		k.Value, err = parseGUID(t)
		if err != nil {
			err = fmt.Errorf("%q is not a valid guid key (write xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", text)
		}
	case KeyBinary:
		k.Value, err = parseBinary(t)
		if err != nil {
			err = fmt.Errorf("%q is not a valid binary key: %v", text, err)
		}
	case KeyDateTime:
		if err := dateTimeWithOffset(t); err != nil {
			return Key{Text: text}, err
		}
		k.Value, err = parseDateTime(t)
		if err != nil {
			err = fmt.Errorf("%q is not a valid datetime key (write RFC 3339, like 2024-01-31T00:00:00Z, or a date like 2024-01-31)", text)
		}
	case KeyTimeSpan:
		k.Value, err = parseTimeSpan(t)
		if err != nil {
			err = fmt.Errorf("%q is not a valid timespan key (write a duration like 36h or 1h30m, or hh:mm:ss)", text)
		}
	case KeyDateTimeOffset:
		var ts time.Time
		ts, err = time.Parse(time.RFC3339Nano, t)
		if err != nil {
			err = fmt.Errorf("%q is not a valid datetimeoffset key (write RFC 3339 with an offset, like 2024-01-31T08:00:00+02:00)", text)
			break
		}
		_, off := ts.Zone()
		k.Value = DateTimeOffset{UTC: ts.UTC(), Offset: time.Duration(off) * time.Second}
	default:
		err = fmt.Errorf("unknown key type %q", keyType)
	}
	if err != nil {
		return Key{Text: text}, err
	}
	return k, nil
}

func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("bad guid")
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return g, err
	}
	copy(g[:], b)
	return g, nil
}

func parseBinary(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, fmt.Errorf("write bytes as 0x followed by hex digits, like 0x0a1b")
	}
	h := s[2:]
	if len(h)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("write bytes as 0x followed by hex digits, like 0x0a1b")
	}
	if len(b) > maxBinaryKey {
		return nil, fmt.Errorf("longer than %d bytes", maxBinaryKey)
	}
	// Trailing zero bytes do not change a binary key (SQL Server compares
	// 0x01 and 0x0100 as equal), so keys are kept without them.
	return bytes.TrimRight(b, "\x00"), nil
}

// hintedError is a key error that knows a better hint than KeyHint.
type hintedError struct {
	msg, hint string
}

func (e *hintedError) Error() string { return e.msg }

// Hint is the hint to show with the error.
func (e *hintedError) Hint() string { return e.hint }

// spacedKey refuses a key with white space before or after it (a quoted
// " 100", a tab or no-break space pasted along, the line break a | block
// adds) or inside it beyond a datetime's one space between date and time.
// Trimming or skipping it would key something other than what is written.
func spacedKey(keyType, text string) error {
	t := strings.TrimSpace(text)
	var hint string
	switch {
	case t == "":
		hint = "write the key; it is blank"
	case shardkey.InnerSpace(t) && keyType == KeyDateTime:
		hint = fmt.Sprintf("write the date and the time with T or one space between them, like %s", keyExamples[KeyDateTime])
	case shardkey.InnerSpace(t):
		hint = fmt.Sprintf("write %s, without white space", strings.Join(strings.Fields(t), ""))
	default:
		hint = fmt.Sprintf("write %s, without the white space around it", t)
	}
	if strings.HasSuffix(text, "\n") {
		hint += "; a block scalar (| or >) ends in a line break, so write the key on its key's line"
	}
	return &hintedError{msg: fmt.Sprintf("%q has white space in it; a key is read exactly as written", text), hint: hint}
}

// dateTimeWithOffset refuses an RFC 3339 datetime key with any offset but
// zero (Z, +00:00 or -00:00 all name the UTC wall clock).
// The Elastic Database library normalises a DateTime from its wall-clock
// ticks and ignores its Kind (ShardKey.cs, Normalize(DateTime)), so the
// offset would either be dropped or, converted to UTC, move the bound; which
// one the writer meant is not knowable, so the plan must say.
func dateTimeWithOffset(s string) error {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if _, off := ts.Zone(); err != nil || off == 0 {
		return nil
	}
	wall := time.Date(ts.Year(), ts.Month(), ts.Day(), ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond(), time.UTC)
	return &hintedError{
		msg: fmt.Sprintf("%q has an offset, but a datetime key is a wall-clock time: the Elastic Database library keys it by its ticks and ignores its zone", s),
		hint: fmt.Sprintf("write the time as the application stores it, with Z or no offset: %s for this wall-clock time, or %s for this instant in UTC",
			wall.Format(time.RFC3339Nano), ts.UTC().Format(time.RFC3339Nano)),
	}
}

func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad datetime")
}

// parseTimeSpan accepts Go durations (36h, -1h30m) and .NET TimeSpan text
// ([-][d.]hh:mm:ss[.fffffff]).
func parseTimeSpan(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var days int64
	if dot := strings.IndexByte(s, '.'); dot >= 0 && dot < strings.IndexByte(s, ':') {
		d, err := strconv.ParseInt(s[:dot], 10, 64)
		if err != nil {
			return 0, err
		}
		days, s = d, s[dot+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad timespan")
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || sec >= 60 || h < 0 || m < 0 || sec < 0 {
		return 0, fmt.Errorf("bad timespan")
	}
	total := float64(days*24+h)*float64(time.Hour) + float64(m)*float64(time.Minute) + sec*float64(time.Second)
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("timespan out of range")
	}
	d := time.Duration(total)
	if neg {
		d = -d
	}
	return d, nil
}

// guidOrder is the byte order in which SQL Server sorts uniqueidentifier
// values, as indexes into the RFC 4122 byte order (ELASTICDB.md §3).
var guidOrder = [16]int{10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0}

// CompareKeys orders two keys of the same key type the way the Elastic
// Database shard map orders their encodings: -1, 0 or +1.
func CompareKeys(a, b Key) int {
	switch x := a.Value.(type) {
	case int32:
		return cmpOrdered(x, b.Value.(int32))
	case int64:
		return cmpOrdered(x, b.Value.(int64))
	case [16]byte:
		y := b.Value.([16]byte)
		for _, i := range guidOrder {
			if c := cmpOrdered(x[i], y[i]); c != 0 {
				return c
			}
		}
		return 0
	case []byte:
		return bytes.Compare(x, b.Value.([]byte))
	case time.Time:
		return x.Compare(b.Value.(time.Time))
	case time.Duration:
		return cmpOrdered(x, b.Value.(time.Duration))
	case DateTimeOffset:
		y := b.Value.(DateTimeOffset)
		if c := x.UTC.Compare(y.UTC); c != 0 {
			return c
		}
		return cmpOrdered(x.Offset, y.Offset)
	}
	panic(fmt.Sprintf("plans: cannot compare keys of type %T", a.Value))
}

func cmpOrdered[T int32 | int64 | byte | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// keyExamples show how a key of each key type is written in a plan.
var keyExamples = map[string]string{
	KeyInt32: "100000", KeyInt64: "100000", KeyGUID: "0b0f6a2e-8c1d-4e2f-9a3b-5c6d7e8f9a0b",
	KeyBinary: "0x0a1b", KeyDateTime: "2024-01-31T00:00:00Z", KeyTimeSpan: "36h",
	KeyDateTimeOffset: "2024-01-31T08:00:00+02:00",
}

// KeyHint says how keys of keyType are written, for messages about a key
// that is not valid.
func KeyHint(keyType string) string {
	return keyHint(keyType, nil)
}

// keyHint is the hint for err about a key of keyType: the error's own hint
// when it has one, else KeyHint's.
func keyHint(keyType string, err error) string {
	var h *hintedError
	if errors.As(err, &h) {
		return h.Hint()
	}
	if ex, ok := keyExamples[keyType]; ok {
		return fmt.Sprintf("keys of keyType %s are written like %s; check low:, high: and key: against keyType", keyType, ex)
	}
	return "check the key against the layout's keyType"
}
