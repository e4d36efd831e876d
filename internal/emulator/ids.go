package emulator

import "crypto/rand"

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idLength is the number of base62 characters after a prefix, as in the
// real API's uprof_ ids.
const idLength = 24

// randomBase62 returns n uniformly random base62 characters. Bytes of 248 and
// above are rejected because 248 is the largest multiple of 62 that fits in a
// byte; keeping them would bias the first characters of the alphabet.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+).
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, base62Alphabet[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// newProfileID returns a fresh id of the form uprof_ + 24 base62 characters.
func newProfileID() string { return "uprof_" + randomBase62(idLength) }

// newRequestID returns a fresh request id of the form req_ + 24 base62 characters.
func newRequestID() string { return "req_" + randomBase62(idLength) }
