package emulator

import (
	"cmp"
	"container/heap"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Profiles live in fixed-size chunks so that appending never copies the ones
// already stored: a plain slice would move millions of profiles under the
// write lock each time it grew.
const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

// chunk holds records by pointer: an update or delete swaps a slot's record
// for a new one atomically, so readers never see a record half written.
type chunk [chunkSize]atomic.Pointer[record]

// errNotFound is returned for an id that is not stored (or was deleted).
var errNotFound = errors.New("not found")

// store keeps profiles in creation order. created_at strictly increases
// along the log (see add), so created_at alone is a unique key and
// positions by time are binary searches. A deleted profile stays in the log
// as a tombstone, so positions and searches stay valid.
//
// Readers take the read lock only to snapshot the log's length (a view);
// the chunks below that length are never replaced, and each slot is read
// atomically, so a view is read without the lock while writes go on.
// Writers (create, update, delete) hold the write lock, which also makes an
// update's read-modify-write atomic.
type store struct {
	mu     sync.RWMutex
	chunks []*chunk
	n      int
	byID   map[string]int // live profiles only
	last   int64          // created_at of the newest record, Unix µs
	live   int
}

func newStore() *store {
	return &store{byID: make(map[string]int)}
}

// view is an immutable prefix of the log.
type view struct {
	chunks []*chunk
	n      int
}

func (v view) at(i int) *record { return v.chunks[i>>chunkBits][i&chunkMask].Load() }

func (s *store) view() view {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return view{chunks: s.chunks, n: s.n}
}

// len is the number of live profiles.
func (s *store) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live
}

// add stamps r with its created_at and updated_at and appends it. Times are
// kept to the microsecond, like the real API's, and forced to increase by at
// least a microsecond over the previous profile so that the log stays sorted
// even when the clock steps back or two creates share a tick.
func (s *store) add(r *record, now time.Time) *record {
	at := now.UnixMicro()
	s.mu.Lock()
	defer s.mu.Unlock()
	if at <= s.last {
		at = s.last + 1
	}
	s.last = at
	r.created, r.updated = at, at
	if s.n == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, new(chunk))
	}
	s.chunks[s.n>>chunkBits][s.n&chunkMask].Store(r)
	s.byID[r.id] = s.n
	s.n++
	s.live++
	return r
}

func (s *store) get(id string) (*record, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	return s.slot(i).Load(), true
}

func (s *store) slot(i int) *atomic.Pointer[record] { return &s.chunks[i>>chunkBits][i&chunkMask] }

// update replaces the profile id with change(old), stamped with an
// updated_at after now and after its previous one, so that updated_at moves
// with every update. change's error is returned as is; errNotFound if id is
// not stored.
func (s *store) update(id string, now time.Time, change func(old *record) (*record, error)) (*record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return nil, errNotFound
	}
	slot := s.slot(i)
	old := slot.Load()
	r, err := change(old)
	if err != nil {
		return nil, err
	}
	r.updated = max(now.UnixMicro(), old.updated+1)
	slot.Store(r)
	return r, nil
}

// remove deletes the profile id, leaving a tombstone in its place; it
// reports whether id was stored.
func (s *store) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return false
	}
	slot := s.slot(i)
	old := slot.Load()
	slot.Store(&record{id: old.id, created: old.created, updated: old.updated, deleted: true})
	delete(s.byID, id)
	s.live--
	return true
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
	// statuses, when not nil, keeps only profiles whose enforcement_status
	// is one of them (GA's enforcement_status filter).
	statuses []string
}

// match reports whether r belongs in the listing: live, and of a wanted
// enforcement status.
func (q *listQuery) match(r *record) bool {
	if r.deleted {
		return false
	}
	return q.statuses == nil || slices.Contains(q.statuses, enforcementUnrestricted)
}

// sortKey is a profile's position in a listing. at (created_at in Unix
// microseconds) is unique in the store, so it breaks every tie.
type sortKey struct {
	named bool
	name  string
	at    int64
}

func keyOf(r *record) sortKey {
	return sortKey{at: r.created, named: r.name != "", name: r.name}
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
func (s *store) list(q listQuery) (page []*record, more bool) {
	v := s.view()
	if q.byName {
		return v.listByName(q)
	}
	return v.listByCreatedAt(q)
}

// listByCreatedAt walks the log from a binary-searched start, so its cost
// depends on the page size (and the tombstones and filtered-out profiles
// passed over), not on how many profiles are stored. more is exact: it is
// true only when a profile that belongs in the listing follows the page.
func (v view) listByCreatedAt(q listQuery) ([]*record, bool) {
	page := make([]*record, 0, min(q.limit, v.n))
	if q.desc {
		i := v.n - 1
		if q.after != nil {
			// The last profile created strictly before the cursor's.
			i = sort.Search(v.n, func(i int) bool { return v.at(i).created >= q.after.At }) - 1
		}
		for ; i >= 0; i-- {
			if r := v.at(i); q.match(r) {
				if len(page) == q.limit {
					return page, true
				}
				page = append(page, r)
			}
		}
		return page, false
	}
	i := 0
	if q.after != nil {
		i = sort.Search(v.n, func(i int) bool { return v.at(i).created > q.after.At })
	}
	for ; i < v.n; i++ {
		if r := v.at(i); q.match(r) {
			if len(page) == q.limit {
				return page, true
			}
			page = append(page, r)
		}
	}
	return page, false
}

// listByName scans the whole view and keeps the first limit+1 profiles after
// the cursor in a bounded heap: O(n log limit) per page, no copy of the log.
func (v view) listByName(q listQuery) ([]*record, bool) {
	h := &pageHeap{q: q}
	var after sortKey
	if q.after != nil {
		after = q.after.key()
	}
	for i := 0; i < v.n; i++ {
		r := v.at(i)
		if !q.match(r) {
			continue
		}
		k := keyOf(r)
		if q.after != nil && !q.before(after, k) {
			continue
		}
		if h.Len() <= q.limit {
			heap.Push(h, entry{r, k})
		} else if q.before(k, h.items[0].key) {
			h.items[0] = entry{r, k}
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
	page := make([]*record, len(h.items))
	for j, e := range h.items {
		page[j] = e.rec
	}
	return page, more
}

// entry keeps the record its key was read from, so that a page shows each
// profile as it was when it was placed, even if it is updated meanwhile.
type entry struct {
	rec *record
	key sortKey
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
