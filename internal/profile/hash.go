package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// EmailHash is the email_hash provision sends for an address: the lower-case
// hex SHA-256 of the address trimmed and lower-cased, so that the same
// mailbox written two ways hashes alike. The address itself never leaves
// the machine.
func EmailHash(addr string) string {
	return sha256Hex(strings.ToLower(strings.TrimSpace(addr)))
}

// NameHash is the name_hash provision computes for a name: the lower-case
// hex SHA-256 of the name with its whitespace runs collapsed to one space,
// trimmed and lower-cased, so that spacing and case do not change it.
func NameHash(name string) string {
	return sha256Hex(strings.ToLower(strings.Join(strings.Fields(name), " ")))
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
