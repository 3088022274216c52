package plans

import (
	"testing"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// A plan's keys are checked by ParseKey when the plan is loaded and encoded
// by shardkey.EncodeText when it is planned: the two must accept the same
// text and order what they accept the same way, or a plan that validates
// could fail to plan, or its ranges be checked in another order than stored.
func TestParseKeyAgreesWithShardkey(t *testing.T) {
	inputs := map[string][]string{
		KeyInt32: {"0", "-5", "2147483647", "2147483648", " 7", "7\n", "1.5", ""},
		KeyInt64: {"-9223372036854775808", "9223372036854775807", "100", "100 ", "\u00a0100", "1e3"},
		KeyGUID: {"0b0f6a2e-8c1d-4e2f-9a3b-5c6d7e8f9a0b", "01000000-0000-0000-0000-000000000000",
			"00000000-0000-0000-0000-000000000001", " 00000000-0000-0000-0000-000000000001", "not-a-guid"},
		KeyBinary: {"0x01", "0x0a1b", "0xff", "0x0a1b ", "0x0a 1b", "0x123"},
		KeyDateTime: {"2024-01-31", "2024-01-31T10:00:00Z", "2024-01-31T10:00:00+00:00", "2024-01-31T10:00:00-00:00",
			"2024-01-31T10:00:00", "2024-01-31 10:00:00", "2024-01-31T10:00:00+02:00", "2024-01-31T10:00:00+00:30",
			"2024-01-31T09:59:59.5Z", " 2024-01-31", "2024-01-31\t10:00:00", "2024-01-31  10:00:00", "2024-13-01"},
		KeyDateTimeOffset: {"2024-01-31T10:00:00Z", "2024-01-31T10:00:00+00:00", "2024-01-31T12:00:00+02:00",
			"2024-01-31T05:00:00-05:00", "2024-01-31T10:00:00", "2024-01-31T10:00:00Z\n"},
		KeyTimeSpan: {"1h30m", "-1h", "0s", "1.02:03:04", " 1h", "25:00:00"},
	}
	for kt, texts := range inputs {
		k, err := fleet.ParseKeyType(kt)
		if err != nil {
			t.Fatal(err)
		}
		type parsed struct {
			key Key
			enc []byte
		}
		var ok []parsed
		for _, text := range texts {
			key, perr := ParseKey(kt, text)
			enc, eerr := shardkey.EncodeText(k, text)
			if (perr == nil) != (eerr == nil) {
				t.Errorf("%s %q: ParseKey error %v, shardkey.EncodeText error %v", kt, text, perr, eerr)
				continue
			}
			if perr == nil {
				ok = append(ok, parsed{key, enc})
			}
		}
		for _, a := range ok {
			for _, b := range ok {
				if p, s := CompareKeys(a.key, b.key), shardkey.Compare(a.enc, b.enc); p != s {
					t.Errorf("%s %q vs %q: CompareKeys %d, shardkey.Compare %d", kt, a.key.Text, b.key.Text, p, s)
				}
			}
		}
	}
}
