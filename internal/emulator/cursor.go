package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
)

// cursor is what next_page encodes: the sort key and id of the last profile
// of a page, and the order it was issued for. Resuming from a key rather than
// an offset keeps paging exact while profiles are being created.
type cursor struct {
	By    string `json:"by"`
	Order string `json:"order"`
	At    int64  `json:"at"` // created_at in Unix microseconds
	Named bool   `json:"named,omitempty"`
	Name  string `json:"name,omitempty"`
	ID    string `json:"id"`
}

func (c *cursor) key() sortKey { return sortKey{named: c.Named, name: c.Name, at: c.At} }

func (q listQuery) orderNames() (by, order string) {
	by, order = orderCreatedAt, orderAsc
	if q.byName {
		by = orderName
	}
	if q.desc {
		order = orderDesc
	}
	return by, order
}

// encodeCursor returns the opaque next_page value that resumes after p.
func encodeCursor(q listQuery, r *record) string {
	by, order := q.orderNames()
	k := keyOf(r)
	c := cursor{By: by, Order: order, At: k.at, ID: r.id}
	if q.byName {
		c.Named, c.Name = k.named, k.name
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

const badCursor = "page: not a cursor returned as next_page by this server"

// decodeCursor parses a page parameter. It does not check the cursor against
// the request's order; parseListQuery does.
func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New(badCursor)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		return nil, errors.New(badCursor)
	}
	return &c, nil
}
