package profile

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
)

// A digest is what the state keeps of a profile's content: the request
// with every value but the external_id replaced by a 32-bit hash of its
// normalised form (relationship in the seed's words with the default filled
// in, onboarded_at in UTC). It is enough to tell whether a row asks for
// what the profile holds, which fields differ, and which metadata keys a
// row no longer has (the keys are kept as they are), at a few bytes a field
// whatever the values' length; it cannot be sent. Two requests that mean the
// same have equal digests; a field that differs has a different hash but
// for one chance in 2^32.

// digestLen is the length of a digested value.
const digestLen = 4

// hash32 is FNV-1a of s, as the 4 bytes a digested value is.
func hash32(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return string([]byte{byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)})
}

func hashPtr(s *string) *string {
	if s == nil {
		return nil
	}
	h := hash32(*s)
	return &h
}

// Digest returns r's digest; the digest of a digest is itself.
func (r Request) Digest() Request {
	if r.digested {
		return r
	}
	c := r.normalised()
	d := Request{ExternalID: r.ExternalID, digested: true,
		Name: hashPtr(c.Name), Relationship: hashPtr(&c.Relationship),
		Country: hashPtr(c.Country), EmailHash: hashPtr(c.EmailHash), NameHash: hashPtr(c.NameHash),
		OnboardedAt: hashPtr(c.OnboardedAt), AccountStatus: hashPtr(c.AccountStatus), EntityType: hashPtr(c.EntityType)}
	if len(c.Metadata) > 0 {
		d.Metadata = make(map[string]string, len(c.Metadata))
		for k, v := range c.Metadata {
			d.Metadata[k] = hash32(v)
		}
	}
	return d
}

// Digested reports whether r is a digest.
func (r Request) Digested() bool { return r.digested }

// The codes of a digest's fields in its binary form, in this order.
const (
	digestName byte = 1 + iota
	digestRelationship
	digestCountry
	digestEmailHash
	digestNameHash
	digestOnboardedAt
	digestAccountStatus
	digestEntityType
	digestMetadata
)

func (r *Request) digestFields() []**string {
	return []**string{nil, &r.Name, &r.Relationship, &r.Country, &r.EmailHash, &r.NameHash, &r.OnboardedAt, &r.AccountStatus, &r.EntityType}
}

// AppendDigest appends the binary form of r's digest to b: for each field
// set, its code and its hash; for each metadata key in order, the code, the
// key's length (uvarint) and the key, and the hash. The external_id is not
// part of it. Equal contents give equal bytes.
func AppendDigest(b []byte, r Request) []byte {
	d := r.Digest()
	for code, p := range d.digestFields() {
		if p != nil && *p != nil {
			b = append(b, byte(code))
			b = append(b, **p...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.Metadata)) {
		b = append(b, digestMetadata)
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = append(b, d.Metadata[k]...)
	}
	return b
}

var errDigest = errors.New("corrupt content digest")

// ParseDigest reads what AppendDigest wrote, as a digest with externalID.
func ParseDigest(b []byte, externalID *string) (Request, error) {
	d := Request{ExternalID: externalID, digested: true}
	fields := d.digestFields()
	for len(b) > 0 {
		code := b[0]
		b = b[1:]
		switch {
		case code == digestMetadata:
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) || len(b)-k-int(n) < digestLen {
				return Request{}, errDigest
			}
			key := string(b[k : k+int(n)])
			b = b[k+int(n):]
			if d.Metadata == nil {
				d.Metadata = map[string]string{}
			}
			d.Metadata[key] = string(b[:digestLen])
			b = b[digestLen:]
		case code >= digestName && code < digestMetadata && len(b) >= digestLen:
			v := string(b[:digestLen])
			*fields[code] = &v
			b = b[digestLen:]
		default:
			return Request{}, errDigest
		}
	}
	return d, nil
}

// SameContent reports whether a and b (requests or digests) ask for the
// same content.
func SameContent(a, b Request) bool {
	return string(AppendDigest(nil, a)) == string(AppendDigest(nil, b))
}
