package shardkey

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// BoundString renders a stored bound as it travels in step inputs and saved
// plans: "0x" + lowercase hex (the library's request XML form), "0x" for the
// empty minimum; +inf (nil) is the empty string.
func BoundString(b []byte) string {
	if b == nil {
		return ""
	}
	return "0x" + hex.EncodeToString(b)
}

// ParseBound reverses BoundString: "" is +inf (nil), "0x" the empty minimum.
func ParseBound(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "0x") {
		return nil, fmt.Errorf("bound %q: want 0x-prefixed hex", s)
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, fmt.Errorf("bound %q: %v", s, err)
	}
	return b, nil
}
