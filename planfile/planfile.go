package planfile

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fleetplan/fleetplan/confine"
	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/stepgraph"
)

// FormatVersion is the version of the file layout; files of another
// version are refused.
const FormatVersion = 2

// MaxSize bounds the size of a saved plan that is read.
const MaxSize = 64 << 20

const (
	digestPrefix    = "sha256:"
	signaturePrefix = "hmac-sha256:"
)

// Plan is what a saved plan holds.
type Plan struct {
	// Config is the absolute path of the fleetplan.yaml the plan was made with.
	Config string           `json:"config"`
	Graph  *stepgraph.Graph `json:"graph"`
}

// file is the JSON layout. Digest and Signature cover the compact JSON of
// Plan exactly as written, so no re-encoding can change what they cover.
type file struct {
	FormatVersion int             `json:"formatVersion"`
	Digest        string          `json:"digest"`
	Signature     string          `json:"signature,omitempty"`
	Plan          json.RawMessage `json:"plan"`
}

// Saved is a saved plan whose digest matched.
type Saved struct {
	Plan
	signature string
	payload   []byte // the compact JSON the digest covers
}

// Signed reports whether the file carries a signature.
func (s *Saved) Signed() bool { return s.signature != "" }

// Encode renders p as a saved plan, signed when key is not empty.
func Encode(p *Plan, key []byte) ([]byte, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	f := file{FormatVersion: FormatVersion, Digest: digestPrefix + hex.EncodeToString(sum[:]), Plan: payload}
	if len(key) > 0 {
		f.Signature = signaturePrefix + hex.EncodeToString(mac(key, payload))
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write saves p to path atomically (a temporary file, then a rename).
func Write(path string, p *Plan, key []byte) error {
	b, err := Encode(p, key)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func mac(key, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(payload)
	return h.Sum(nil)
}

// ErrChanged marks a saved plan whose content does not match its digest.
var ErrChanged = errors.New("the file was changed after `fleetplan plan` wrote it: its content does not match its digest")

// ErrSignature marks a saved plan without a valid signature where one is required.
var ErrSignature = errors.New("saved plan is not signed with the configured key")

// signatureError says what is wrong with a signature; it matches ErrSignature.
type signatureError struct{ msg string }

func (e *signatureError) Error() string        { return e.msg }
func (e *signatureError) Is(target error) bool { return target == ErrSignature }

func refuse(path string, err error, hint string) error {
	return &fleet.Error{Op: "read saved plan", Target: path, Err: err, Hint: hint}
}

const (
	replanHint = "never edit a saved plan: run `fleetplan plan PLAN --out FILE` again and review the new plan"
	formatHint = "save the plan again with this fleetplan: `fleetplan plan PLAN --out FILE`"
)

// LooksSaved reports whether b is meant as a saved plan (a JSON object)
// rather than a YAML plan file.
func LooksSaved(b []byte) bool {
	return strings.HasPrefix(strings.TrimSpace(string(b)), "{")
}

// Read reads a saved plan. ok is false when the file is not meant as one (a
// YAML plan); err is set when it is, but is refused.
func Read(path string) (s *Saved, ok bool, err error) {
	f, err := confine.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, false, err
	}
	if !LooksSaved(b) {
		return nil, false, nil
	}
	if len(b) > MaxSize {
		return nil, true, refuse(path, fmt.Errorf("the file is larger than %d MiB", MaxSize>>20), replanHint)
	}
	s, err = Parse(path, b)
	return s, true, err
}

// Parse decodes a saved plan and checks its format and digest; name is
// used in errors. It never panics, whatever b holds.
func Parse(name string, b []byte) (*Saved, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, refuse(name, fmt.Errorf("not a valid saved plan: %v", err), replanHint)
	}
	if f.FormatVersion != FormatVersion {
		return nil, refuse(name, fmt.Errorf("saved plan format %d, this fleetplan reads %d", f.FormatVersion, FormatVersion), formatHint)
	}
	var payload bytes.Buffer
	if len(f.Plan) == 0 || json.Compact(&payload, f.Plan) != nil {
		return nil, refuse(name, errors.New("not a valid saved plan: no plan in it"), replanHint)
	}
	want, ok := strings.CutPrefix(f.Digest, digestPrefix)
	got := sha256.Sum256(payload.Bytes())
	if !ok || !hmac.Equal([]byte(want), []byte(hex.EncodeToString(got[:]))) {
		return nil, refuse(name, ErrChanged, replanHint)
	}
	s := &Saved{signature: f.Signature, payload: payload.Bytes()}
	if err := json.Unmarshal(payload.Bytes(), &s.Plan); err != nil {
		return nil, refuse(name, fmt.Errorf("not a valid saved plan: %v", err), replanHint)
	}
	if g := s.Graph; g == nil || g.FormatVersion != stepgraph.FormatVersion {
		v := 0
		if g != nil {
			v = g.FormatVersion
		}
		return nil, refuse(name, fmt.Errorf("saved graph format %d, this fleetplan reads %d", v, stepgraph.FormatVersion), formatHint)
	}
	return s, nil
}

// Verify checks the signature against key. keyFrom names where the key is
// set, for messages.
func (s *Saved) Verify(name string, key []byte, keyFrom string) error {
	if s.signature == "" {
		return &fleet.Error{Op: "apply saved plan", Target: name,
			Err:  &signatureError{fmt.Sprintf("the plan is not signed, and %s sets planSigningKey", keyFrom)},
			Hint: "save the plan with `fleetplan plan --out` where the signing key is available, so it is signed"}
	}
	sig, ok := strings.CutPrefix(s.signature, signaturePrefix)
	if !ok || !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac(key, s.payload)))) {
		return &fleet.Error{Op: "apply saved plan", Target: name,
			Err:  &signatureError{fmt.Sprintf("the signature does not match the key that %s sets (signed with another key, or edited)", keyFrom)},
			Hint: "plan --out and apply must see the same planSigningKey; never edit a saved plan, save it again"}
	}
	return nil
}
