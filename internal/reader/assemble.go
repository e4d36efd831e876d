package reader

import (
	"fmt"
	"strings"
	"sync"

	"github.com/provision/provision/internal/profile"
)

// parts collects the scalar values of one record before they become a
// request, remembering which column, key or --map set each one.
type parts struct {
	val  [nScalar]string
	from [nScalar]string
	set  [nScalar]bool
}

// put sets a field. Two different sources of one field (a top-level key
// and the same detail inside external_user_details) must agree; the same
// source again (a JSONL key given twice) wins, as encoding/json's last key
// does.
func (p *parts) put(k fieldKind, v, from string) *profile.Problem {
	i, _ := k.scalar()
	if p.set[i] && p.from[i] != from && p.val[i] != v {
		return &profile.Problem{Rule: RuleFieldConflict, Field: from,
			Message: fmt.Sprintf("%q differs from %s %q; both set %s, keep one", shortValue(v), p.from[i], shortValue(p.val[i]), k.name())}
	}
	p.val[i], p.from[i], p.set[i] = v, from, true
	return nil
}

func slotOf(k fieldKind) int {
	i, _ := k.scalar()
	return i
}

// slots is where a request's strings live: the two strings of each Field,
// so that a CSV record's fields and its request's strings are one
// allocation. No one appends to or reads these Fields as fields.
type slots []profile.Field

func newSlots() slots { return make(slots, (nScalar+1)/2) }

func (s slots) at(i int) *string {
	if i%2 == 0 {
		return &s[i/2].Name
	}
	return &s[i/2].Value
}

// request fills req's scalar fields, keeping their strings in sl (nil: a
// new allocation when one is needed). external_id and reference_id are one
// field: given both, they must agree. email becomes email_hash and is not
// kept: the address never leaves this function.
func (p *parts) request(req *profile.Request, sl slots) *profile.Problem {
	ext, ref := slotOf(kindExternalID), slotOf(kindReferenceID)
	if p.set[ext] && p.set[ref] && p.val[ext] != p.val[ref] {
		return &profile.Problem{Rule: RuleFieldConflict, Field: p.from[ref],
			Message: fmt.Sprintf("%q differs from %s %q; reference_id is the GA name of external_id, keep one", shortValue(p.val[ref]), p.from[ext], shortValue(p.val[ext]))}
	}
	if !p.set[ext] && p.set[ref] {
		p.val[ext], p.set[ext] = p.val[ref], true
	}
	if email := slotOf(kindEmail); p.set[email] && strings.TrimSpace(p.val[email]) == "" {
		p.set[email] = false // an address of spaces is no address; its hash would look like one
	}
	if email := slotOf(kindEmail); p.set[email] {
		h := profile.EmailHash(p.val[email])
		if eh := slotOf(kindEmailHash); p.set[eh] && p.val[eh] != h {
			return &profile.Problem{Rule: RuleFieldConflict, Field: p.from[eh],
				Message: fmt.Sprintf("is not the SHA-256 of %s; give the address or its hash, not both", p.from[email])}
		}
		p.val[slotOf(kindEmailHash)], p.set[slotOf(kindEmailHash)] = h, true
		p.val[email], p.set[email] = "", false
	}
	for i, set := range p.set {
		if !set || i == ref {
			continue
		}
		sl = sl.set(req, fieldKind(i)+kindExternalID, p.val[i])
	}
	return nil
}

// set keeps v in sl, made when nil (one allocation for every string
// field), points req's field of kind k to it, and returns sl.
func (sl slots) set(req *profile.Request, k fieldKind, v string) slots {
	if sl == nil {
		sl = newSlots()
	}
	s := sl.at(slotOf(k))
	*s = v
	setField(req, k, s)
	return sl
}

// setField points req's field of kind k to s; reference_id and email,
// which are no field of their own, set nothing.
func setField(req *profile.Request, k fieldKind, s *string) {
	switch k {
	case kindExternalID:
		req.ExternalID = s
	case kindName:
		req.Name = s
	case kindRelationship:
		req.Relationship = s
	case kindAccessType:
		req.AccessType = s
	case kindCountry:
		req.Country = s
	case kindEmailHash:
		req.EmailHash = s
	case kindNameHash:
		req.NameHash = s
	case kindOnboardedAt:
		req.OnboardedAt = s
	case kindAccountStatus:
		req.AccountStatus = s
	case kindEntityType:
		req.EntityType = s
	}
}

// addMetadata sets one metadata key from a --map source, which must not
// clash with the metadata object's own key of that name.
func addMetadata(md map[string]string, hasJSON bool, key, v, from, jsonName, unit string, n int) (map[string]string, *profile.Problem) {
	if md == nil {
		md = make(map[string]string, n)
	} else if hasJSON {
		if _, dup := md[key]; dup {
			return nil, conflict(from, key, unit, jsonName)
		}
	}
	md[key] = v
	return md, nil
}

// metadataMaps holds the maps handed back by Recycle, with the keys they
// had: a CSV record fills one, overwriting the keys it sets and taking out
// the others (settle), where clearing it would cost as much as a new map.
var metadataMaps sync.Pool

// Recycle hands back the metadata map of a request that nothing refers to
// any more, for a later record to fill instead of making one: making a map
// costs about as much as splitting the record. The caller must drop every
// reference to the request first; a map with more keys than a valid
// request has is left to the collector.
func Recycle(md map[string]string) {
	if md == nil || len(md) > profile.MaxMetadataKeys {
		return
	}
	metadataMaps.Put(md)
}
