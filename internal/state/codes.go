package state

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/provision/provision/internal/profile"
)

// The compact forms the state stores (schema version 3, migrateCompact):
// statuses as small integers, the identity as a key without its
// "external_id:" prefix (and a row's identity as a 64-bit hash of it),
// profile and request ids packed into 19 bytes, times in milliseconds, and
// a profile's content as its digest (profile.AppendDigest). A state keeps a
// row of every retained run and an entry of every identity, so a byte here
// is a megabyte at a million users.

// statusCodes are the row statuses by stored code. The two most frequent
// (created, and skipped on every later night) are 0 and 1, which SQLite
// stores in no bytes at all. Codes are never reused or renumbered.
var statusCodes = []profile.Status{
	profile.StatusCreated, profile.StatusSkipped, profile.StatusPending, profile.StatusInvalid,
	profile.StatusFailed, profile.StatusValid, profile.StatusUpdated, profile.StatusSuspended,
	profile.StatusReactivated, profile.StatusDeleted, profile.StatusAbsent,
}

func statusCode(s profile.Status) int {
	for i, st := range statusCodes {
		if st == s {
			return i
		}
	}
	panic(fmt.Sprintf("state: no code for status %q", s))
}

func statusOf(code int) (profile.Status, error) {
	if code < 0 || code >= len(statusCodes) {
		return "", fmt.Errorf("state: unknown status code %d", code)
	}
	return statusCodes[code], nil
}

// Ledger entry statuses. A pending entry was (or is about to be) sent and
// its outcome is not known; a created one maps its identity to a profile;
// a deleted one remembers that a sync deleted its profile.
const (
	ledgerCreated = 0
	ledgerPending = 1
	ledgerDeleted = 2
)

// Ledger origins and what a sync did to an entry's profile.
const (
	originCreated = 0
	originAdopted = 1

	absentNone      = 0
	absentSuspended = 1
	absentDeleted   = 2
)

const externalPrefix = "external_id:"

// keyOf is the ledger's key for an identity: the external_id itself, or,
// for a row without one, a NUL byte and its content hash (no external_id a
// row could hold looks like that).
func keyOf(identity string) string {
	if k, ok := strings.CutPrefix(identity, externalPrefix); ok {
		return k
	}
	return "\x00" + identity
}

// identityOf is the inverse of keyOf.
func identityOf(key string) string {
	if k, ok := strings.CutPrefix(key, "\x00"); ok {
		return k
	}
	return externalPrefix + key
}

// externalID is the external_id a key names, nil for a content identity.
func externalID(key string) *string {
	if strings.HasPrefix(key, "\x00") {
		return nil
	}
	return &key
}

// identOf is the 64-bit hash of a key that a row stores to name its
// identity: the first 8 bytes of its SHA-256, so that two identities of
// one run share it about once in 10^8 runs of a million rows.
func identOf(key string) int64 {
	sum := sha256.Sum256([]byte(key))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// Packed ids. The API's ids are a prefix and 24 base62 characters; 6 bits
// a character make 18 bytes, after a tag byte naming the prefix. An id of
// another form is kept as its text after a 0 tag.
const (
	idText  = 0
	idBytes = 18
	idChars = 24
	// idNone holds the place of the id a pending entry will get, so that
	// recording it rewrites the entry in place rather than growing it.
	idNone = 0xff
)

var noID = append([]byte{idNone}, make([]byte, idBytes)...)

var idPrefixes = []string{"", "uprof_", "req_"}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var base62Index = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(base62); i++ {
		t[base62[i]] = byte(i)
	}
	return t
}()

// packID appends the packed form of id to b; "" packs to nothing (NULL).
func packID(b []byte, id string) []byte {
	if id == "" {
		return b[:0]
	}
	b = b[:0]
	for tag := 1; tag < len(idPrefixes); tag++ {
		rest, ok := strings.CutPrefix(id, idPrefixes[tag])
		if !ok || len(rest) != idChars {
			continue
		}
		var acc uint64
		var n uint
		out := append(b, byte(tag))
		valid := true
		for i := 0; i < idChars; i++ {
			v := base62Index[rest[i]]
			if v == 0xff {
				valid = false
				break
			}
			acc = acc<<6 | uint64(v)
			n += 6
			for n >= 8 {
				n -= 8
				out = append(out, byte(acc>>n))
			}
		}
		if valid {
			return out
		}
	}
	return append(append(b, idText), id...)
}

// unpackID is the inverse of packID.
func unpackID(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	tag := int(b[0])
	if tag == idNone {
		return ""
	}
	if tag == idText || tag >= len(idPrefixes) || len(b) != 1+idBytes {
		if tag == idText {
			return string(b[1:])
		}
		return string(b)
	}
	out := make([]byte, 0, len(idPrefixes[tag])+idChars)
	out = append(out, idPrefixes[tag]...)
	var acc uint64
	var n uint
	for _, c := range b[1:] {
		acc = acc<<8 | uint64(c)
		n += 8
		for n >= 6 {
			n -= 6
			out = append(out, base62[(acc>>n)&63])
		}
	}
	return string(out)
}

// nullBytes is b, or NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
