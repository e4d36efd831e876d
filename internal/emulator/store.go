package emulator

import (
	"cmp"
	"container/heap"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/provision/provision/internal/profile"
)

// Profiles live in fixed-size chunks so that appending never copies the ones
// already stored: a plain slice would move millions of profiles under the
// write lock each time it grew.
const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

// store keeps profiles in creation order, append-only. created_at strictly
// increases along the log (see add), so created_at alone is a unique key
// and positions by time are binary searches.
//
// Readers take the read lock only to snapshot the log's length (a view);
// slots below that length are never written again, and slots above it are
// distinct memory, so a view is read without the lock while creates go on.
type store struct {
	mu     sync.RWMutex
	chunks [][]profile.Profile
	n      int
	byID   map[string]int
	last   time.Time
}

func newStore() *store {
	return &store{byID: make(map[string]int)}
}

// view is an immutable prefix of the log.
type view struct {
	chunks [][]profile.Profile
	n      int
}

func (v view) at(i int) *profile.Profile { return &v.chunks[i>>chunkBits][i&chunkMask] }

func (s *store) view() view {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return view{chunks: s.chunks, n: s.n}
}

func (s *store) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// add stamps p with its created_at and updated_at and appends it. Times are
// kept to the microsecond, like the real API's, and forced to increase by at
// least a microsecond over the previous profile so that the log stays sorted
// even when the clock steps back or two creates share a tick.
func (s *store) add(p profile.Profile, now time.Time) profile.Profile {
	at := now.UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !at.After(s.last) {
		at = s.last.Add(time.Microsecond)
	}
	s.last = at
	p.CreatedAt, p.UpdatedAt = at, at
	if s.n == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, make([]profile.Profile, chunkSize))
	}
	s.chunks[s.n>>chunkBits][s.n&chunkMask] = p
	s.byID[p.ID] = s.n
	s.n++
	return p
}

func (s *store) get(id string) (profile.Profile, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return profile.Profile{}, false
	}
	return *view{chunks: s.chunks, n: s.n}.at(i), true
}

// Sort orders and fields of the list endpoint.
const (
	orderAsc       = "asc"
	orderDesc      = "desc"
	orderCreatedAt = "created_at"
	orderName      = "name"
)

// listQuery is a validated list request.
type listQuery struct {
	limit  int
	desc   bool
	byName bool
	after  *cursor // nil for the first page
}

// sortKey is a profile's position in a listing. at (created_at in Unix
// microseconds) is unique in the store, so it breaks every tie.
type sortKey struct {
	named bool
	name  string
	at    int64
}

func keyOf(p *profile.Profile) sortKey {
	k := sortKey{at: p.CreatedAt.UnixMicro()}
	if p.Name != nil {
		k.named, k.name = true, *p.Name
	}
	return k
}

// before reports whether a comes before b in q's order. For order_by=name the
// SDK documents names compared ignoring ASCII case and profiles without a
// name last in either direction; equal names fall back to created_at in the
// same direction.
func (q listQuery) before(a, b sortKey) bool {
	if q.byName && a.named != b.named {
		return a.named
	}
	c := 0
	if q.byName && a.named {
		c = compareFoldASCII(a.name, b.name)
	}
	if c == 0 {
		c = cmp.Compare(a.at, b.at)
	}
	if q.desc {
		return c > 0
	}
	return c < 0
}

// compareFoldASCII compares strings byte by byte with ASCII letters folded
// to lower case; other bytes compare as they are, which for UTF-8 is code
// point order.
func compareFoldASCII(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// list returns one page and whether more profiles follow it.
func (s *store) list(q listQuery) (page []profile.Profile, more bool) {
	v := s.view()
	if q.byName {
		return v.listByName(q)
	}
	return v.listByCreatedAt(q)
}

// listByCreatedAt walks the log from a binary-searched start, so its cost
// depends on the page size, not on how many profiles are stored.
func (v view) listByCreatedAt(q listQuery) ([]profile.Profile, bool) {
	page := make([]profile.Profile, 0, min(q.limit, v.n))
	if q.desc {
		i := v.n - 1
		if q.after != nil {
			// The last profile created strictly before the cursor's.
			i = sort.Search(v.n, func(i int) bool { return v.at(i).CreatedAt.UnixMicro() >= q.after.At }) - 1
		}
		for ; i >= 0 && len(page) < q.limit; i-- {
			page = append(page, *v.at(i))
		}
		return page, i >= 0
	}
	i := 0
	if q.after != nil {
		i = sort.Search(v.n, func(i int) bool { return v.at(i).CreatedAt.UnixMicro() > q.after.At })
	}
	for ; i < v.n && len(page) < q.limit; i++ {
		page = append(page, *v.at(i))
	}
	return page, i < v.n
}

// listByName scans the whole view and keeps the first limit+1 profiles after
// the cursor in a bounded heap: O(n log limit) per page, no copy of the log.
func (v view) listByName(q listQuery) ([]profile.Profile, bool) {
	h := &pageHeap{q: q}
	var after sortKey
	if q.after != nil {
		after = q.after.key()
	}
	for i := 0; i < v.n; i++ {
		k := keyOf(v.at(i))
		if q.after != nil && !q.before(after, k) {
			continue
		}
		if h.Len() <= q.limit {
			heap.Push(h, entry{i, k})
		} else if q.before(k, h.items[0].key) {
			h.items[0] = entry{i, k}
			heap.Fix(h, 0)
		}
	}
	slices.SortFunc(h.items, func(a, b entry) int {
		if q.before(a.key, b.key) {
			return -1
		}
		return 1
	})
	more := len(h.items) > q.limit
	if more {
		h.items = h.items[:q.limit]
	}
	page := make([]profile.Profile, len(h.items))
	for j, e := range h.items {
		page[j] = *v.at(e.index)
	}
	return page, more
}

type entry struct {
	index int
	key   sortKey
}

// pageHeap is a max-heap in listing order: its root is the entry that comes
// last, the one to evict when an earlier profile turns up.
type pageHeap struct {
	q     listQuery
	items []entry
}

// Len is part of heap.Interface.
func (h *pageHeap) Len() int { return len(h.items) }

// Less puts the entry that comes later in the listing nearer the root.
func (h *pageHeap) Less(i, j int) bool { return h.q.before(h.items[j].key, h.items[i].key) }

// Swap is part of heap.Interface.
func (h *pageHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }

// Push is part of heap.Interface.
func (h *pageHeap) Push(x any) { h.items = append(h.items, x.(entry)) }

// Pop is part of heap.Interface.
func (h *pageHeap) Pop() any {
	e := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return e
}
