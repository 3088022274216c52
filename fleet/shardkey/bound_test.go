package shardkey

import (
	"bytes"
	"testing"
)

func TestBoundRoundTrip(t *testing.T) {
	cases := map[string][]byte{
		"inf":   nil,
		"min":   {},
		"50000": {0x80, 0, 0, 0, 0, 0, 0xc3, 0x50},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBound(BoundString(b))
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (b == nil) || !bytes.Equal(got, b) {
				t.Fatalf("round trip of %x gave %x", b, got)
			}
		})
	}
	if _, err := ParseBound("12"); err == nil {
		t.Fatal("want error for a bound without 0x")
	}
}
