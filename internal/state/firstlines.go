package state

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"syscall"
	"unsafe"
)

// DefaultFirstLinesInMemory is how many identities FirstLines keeps in
// memory before it moves on to a temporary file: a table of up to 64 MiB
// (8 bytes a slot, at most three quarters full) and about a bit a row for
// the lines, room for exports far longer than most without touching the
// disk.
const DefaultFirstLinesInMemory = 3 << 21

// FirstLines remembers the line on which each identity (by its 64-bit hash)
// first appeared, for validate, which keeps no state file but must still
// find duplicates. The first identities are kept in a compact table (see
// firstTable) in memory the Go collector does not manage, so that it
// neither scans it nor lets the heap grow around it; past that, in a
// temporary SQLite file next to the report, which Close removes, so memory
// stays bounded however long the input is (docs/ARCHITECTURE.md,
// "Invariant 4: bounded memory").
type FirstLines struct {
	table firstTable
	lines lineLog
	n     int // identities in the table
	max   int
	dir   string
	sink  uint64 // what Prefetch read, kept so that the reads are made

	path     string // the temporary file, once spilled
	db       *sql.DB
	conn     *sql.Conn
	ins, get *sql.Stmt
	inTx     int
}

// firstLinesBatch is how many inserts go into one transaction of the
// temporary file.
const firstLinesBatch = 4096

// NewFirstLines returns an empty set that keeps up to inMemory identities in
// memory (DefaultFirstLinesInMemory if 0) and the rest in a temporary file
// in dir (os.TempDir() if "").
func NewFirstLines(dir string, inMemory int) *FirstLines {
	if inMemory <= 0 {
		inMemory = DefaultFirstLinesInMemory
	}
	f := &FirstLines{max: inMemory, dir: dir}
	f.table.init(slotsFor(inMemory))
	f.lines.init(inMemory)
	return f
}

// Add records that key appears on line. If it appeared before, it returns
// the first line it appeared on and dup = true, and records nothing.
func (f *FirstLines) Add(key uint64, line int) (first int, dup bool, err error) {
	h := mix(key)
	if seq, ok := f.table.find(h); ok {
		return f.lines.at(seq), true, nil
	}
	if f.db == nil {
		if f.n < f.max {
			if err := f.table.add(h, uint64(f.n)); err != nil {
				return 0, false, err
			}
			f.lines.add(f.n, line)
			f.n++
			return line, false, nil
		}
		if err := f.spill(); err != nil {
			return 0, false, err
		}
	}
	return f.addSpilled(key, line)
}

// Prefetch reads the slots of the table where keys would be found, so that
// the Adds of those keys that follow find them in the processor's cache:
// the reads of a batch overlap, where each Add alone waits for its own. A
// table of millions of identities does not fit in the cache, and that wait
// is most of what an Add costs.
func (f *FirstLines) Prefetch(keys []uint64) {
	var sum uint64
	t := &f.table
	for _, k := range keys {
		home, _ := t.split(mix(k))
		sum += t.slots[home]
	}
	f.sink += sum
}

// addSpilled is Add past the table: in the temporary file.
func (f *FirstLines) addSpilled(key uint64, line int) (first int, dup bool, err error) {
	ctx := context.Background()
	if f.inTx == 0 {
		if _, err := f.conn.ExecContext(ctx, "BEGIN"); err != nil {
			return 0, false, f.fail(err)
		}
	}
	if f.inTx++; f.inTx == firstLinesBatch {
		defer func() {
			f.inTx = 0
			if _, cerr := f.conn.ExecContext(ctx, "COMMIT"); cerr != nil && err == nil {
				err = f.fail(cerr)
			}
		}()
	}
	res, err := f.ins.ExecContext(ctx, int64(key), line)
	if err != nil {
		return 0, false, f.fail(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, f.fail(err)
	} else if n == 1 {
		return line, false, nil
	}
	if err := f.get.QueryRowContext(ctx, int64(key)).Scan(&first); err != nil {
		return 0, false, f.fail(err)
	}
	return first, true, nil
}

func (f *FirstLines) fail(err error) error {
	return fmt.Errorf("duplicate check (temporary file %s): %w", f.path, err)
}

// spill opens the temporary file. It is scratch space: no journal, no
// fsync; the table stays as it is and answers for the identities it holds.
func (f *FirstLines) spill() (err error) {
	tmp, err := os.CreateTemp(f.dir, "provision-validate-*.db")
	if err != nil {
		return fmt.Errorf("duplicate check: a temporary file for more than %d identities: %w", f.max, err)
	}
	path := tmp.Name()
	tmp.Close()
	db, err := sql.Open("sqlite", "file:"+uriEscaper.Replace(path)+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-8192)")
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("duplicate check (temporary file %s): %w", path, err)
	}
	defer func() {
		if err != nil {
			db.Close()
			os.Remove(path)
			err = fmt.Errorf("duplicate check (temporary file %s): %w", path, err)
		}
	}()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE first_lines (key INTEGER PRIMARY KEY, line INTEGER NOT NULL)`); err != nil {
		return err
	}
	ins, err := conn.PrepareContext(ctx, `INSERT INTO first_lines (key, line) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`)
	if err != nil {
		return err
	}
	get, err := conn.PrepareContext(ctx, `SELECT line FROM first_lines WHERE key = ?`)
	if err != nil {
		return err
	}
	f.path, f.db, f.conn, f.ins, f.get = path, db, conn, ins, get
	return nil
}

// spilled reports whether the set has moved on to its temporary file.
func (f *FirstLines) spilled() bool { return f.db != nil }

// Close releases the memory and removes the temporary file, if there is
// one. The set cannot be used after.
func (f *FirstLines) Close() error {
	f.table.free()
	f.lines.free()
	if f.db == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{f.ins, f.get} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if f.conn != nil {
		errs = append(errs, f.conn.Close())
	}
	errs = append(errs, f.db.Close(), os.Remove(f.path))
	f.db = nil
	return errors.Join(errs...)
}

// mix spreads the bits of a key over the whole word (splitmix64's
// finaliser, a bijection, so distinct keys stay distinct): the table takes
// its slot from the top bits, and keys from a caller need not be random.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// The table (firstTable) is open addressing with linear probing, kept in
// robin hood order (an entry is never farther from its home slot than the
// entry after it), 8 bytes a slot, its size a power of two 2^k and at most
// maxLoad full. A slot holds, for a hash h whose top k bits are its home:
//
//	fingerprint (64-k-dispBits bits: the bits of h below the home, but
//	  the lowest dispBits) | seq+1 (k bits: the order in which the
//	  identity was added) | displacement from home (dispBits bits)
//
// 0 is an empty slot. Two hashes match when they share a home (the slot
// less the displacement) and a fingerprint, that is 64-dispBits bits: the
// chance of a false duplicate among n identities is about n²/2^60, one in
// a million for a million rows and one in a hundred thousand for three
// million. The order of addition stands in for the line (lineLog), so that
// the line costs a bit a row rather than four bytes. Doubling the table moves
// one bit from the fingerprint to the home, and is done in place.
const (
	dispBits = 5
	maxDisp  = 1<<dispBits - 1
	// maxLoad is how full the table gets before it doubles: robin hood
	// displacements then stay well under maxDisp (about 25 at most for
	// millions of entries), and a miss reads about three slots.
	maxLoadNum, maxLoadDen = 3, 4
	minTableBits           = 12
)

// slotsFor returns the size of a table that holds n entries.
func slotsFor(n int) int {
	need := (n*maxLoadDen + maxLoadNum - 1) / maxLoadNum
	return 1 << max(minTableBits, bits.Len(uint(need-1)))
}

// firstTable is the hash table of FirstLines.
type firstTable struct {
	slots []uint64 // 1<<k slots, a prefix of mem
	k     uint
	mem   []byte // memory mapped for the largest table, or nil: slots is then on the Go heap
}

// init reserves address space for a table of up to maxSlots slots, which
// the system backs with memory only as slots are used, and starts small.
func (t *firstTable) init(maxSlots int) {
	t.k = minTableBits
	if mem, err := syscall.Mmap(-1, 0, maxSlots*8, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE); err == nil {
		t.mem = mem
		t.slots = unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(mem))), 1<<t.k)
		return
	}
	t.slots = make([]uint64, 1<<t.k)
}

func (t *firstTable) free() {
	if t.mem != nil {
		syscall.Munmap(t.mem)
		t.mem = nil
	}
	t.slots = nil
}

// split returns the home slot and the fingerprint of h.
func (t *firstTable) split(h uint64) (home, fp uint64) {
	return h >> (64 - t.k), (h << t.k) >> (t.k + dispBits)
}

// entry returns what slot i holds: its home, fingerprint and seq+1.
func (t *firstTable) entry(i int, v uint64) (home, fp, seq1 uint64) {
	mask := uint64(len(t.slots) - 1)
	return (uint64(i) - v&maxDisp) & mask, v >> (t.k + dispBits), (v >> dispBits) & (1<<t.k - 1)
}

// find returns the seq of h's entry.
func (t *firstTable) find(h uint64) (seq int, ok bool) {
	home, fp := t.split(h)
	mask := uint64(len(t.slots) - 1)
	for i, d := home, uint64(0); ; i, d = (i+1)&mask, d+1 {
		v := t.slots[i]
		if v == 0 || v&maxDisp < d {
			return 0, false // h's entry would be here or before
		}
		if v&maxDisp == d && v>>(t.k+dispBits) == fp {
			return int((v>>dispBits)&(1<<t.k-1)) - 1, true
		}
	}
}

// add adds h, which the table does not hold, as the seq-th entry; seq is
// below maxLoad of the table's size once doubled if need be.
func (t *firstTable) add(h, seq uint64) error {
	if (seq+1)*maxLoadDen > uint64(len(t.slots))*maxLoadNum {
		if err := t.grow(); err != nil {
			return err
		}
	}
	home, fp := t.split(h)
	for seq1 := seq + 1; ; {
		var ok bool
		if ok, home, fp, seq1 = t.place(home, fp, seq1, nil, 0); ok {
			return nil
		}
		// An entry would sit farther from home than a slot can say: double
		// the table, which halves its load, and place the entry carried.
		if err := t.grow(); err != nil {
			return err
		}
		home, fp = home<<1|fp>>(64-t.k-dispBits), fp&(1<<(64-t.k-dispBits)-1)
	}
}

// place puts an entry in the table, robin hood: it takes the first slot
// that is empty or holds an entry nearer its own home, and that entry moves
// on in its stead. ok is false, with the entry then carried, when one
// would be more than maxDisp from home. While the table doubles (old > 0),
// a slot below old not set in done holds an entry in the layout of the old
// size: it counts as empty, and the entry it held is carried on from its
// new home.
func (t *firstTable) place(home, fp, seq1 uint64, done []uint64, old int) (ok bool, cHome, cFP, cSeq1 uint64) {
	mask := uint64(len(t.slots) - 1)
	for i, d := home, uint64(0); ; i, d = (i+1)&mask, d+1 {
		if d > maxDisp {
			return false, home, fp, seq1
		}
		v := t.slots[i]
		stale := int(i) < old && done[i/64]&(1<<(i%64)) == 0
		if v == 0 || stale || v&maxDisp < d {
			t.slots[i] = fp<<(t.k+dispBits) | seq1<<dispBits | d
			if old > 0 && int(i) < old {
				done[i/64] |= 1 << (i % 64)
			}
			switch {
			case v == 0:
				return true, 0, 0, 0
			case stale:
				// The old layout's entry starts over from its new home.
				home, fp, seq1 = t.moved(int(i), v)
				i, d = (home-1)&mask, ^uint64(0) // the loop's step makes them home, 0
			default:
				// The entry moved on goes on from here.
				home, fp, seq1 = t.entry(int(i), v)
				d = v & maxDisp
			}
		}
	}
}

// moved returns the entry that slot i held in the layout of half the
// current size as it is in the current one: one more bit of home, one
// less of fingerprint.
func (t *firstTable) moved(i int, v uint64) (home, fp, seq1 uint64) {
	k := t.k - 1
	oldMask := uint64(1<<k - 1)
	oh, ofp, s := (uint64(i)-v&maxDisp)&oldMask, v>>(k+dispBits), (v>>dispBits)&(1<<k-1)
	fpBits := 64 - t.k - dispBits
	return oh<<1 | ofp>>fpBits, ofp & (1<<fpBits - 1), s
}

// grow doubles the table in place: the slots of the new half are empty,
// and every entry of the old half is taken out, in slot order, and placed
// anew; done marks the slots of the old half that hold the new layout.
func (t *firstTable) grow() error {
	old := len(t.slots)
	if t.mem != nil && 2*old*8 <= len(t.mem) {
		t.slots = unsafe.Slice(&t.slots[0], 2*old)
	} else {
		s := make([]uint64, 2*old)
		copy(s, t.slots)
		if t.mem != nil {
			syscall.Munmap(t.mem)
			t.mem = nil
		}
		t.slots = s
	}
	t.k++
	done := make([]uint64, (old+63)/64)
	for i := 0; i < old; i++ {
		v := t.slots[i]
		if done[i/64]&(1<<(i%64)) != 0 || v == 0 {
			continue
		}
		t.slots[i] = 0
		done[i/64] |= 1 << (i % 64)
		home, fp, seq1 := t.moved(i, v)
		if ok, _, _, _ := t.place(home, fp, seq1, done, old); !ok {
			// At half the load a displacement over maxDisp does not happen
			// in practice; there is no bigger table to turn to.
			return errors.New("duplicate check: the table of identities overflowed")
		}
	}
	return nil
}

// lineLog keeps the line of each entry by its seq. Most lines follow the
// line before: a bit a row says so, and the difference of any other is a
// varint of its own. Every lineCheckpoint rows the line itself is kept, and
// where that row's varints start. The bits and the varints are in memory the
// collector does not manage: an eighth of a byte a row for an export of one
// line a record.
type lineLog struct {
	next  []byte // bit seq%8 of byte seq/8: the line of seq is the one before's plus one
	far   []byte // the differences of the other lines, varints
	marks []lineMark
	last  int
	mem   [][]byte // the mappings next and far start in
}

// lineMark is the line of a seq that is a multiple of lineCheckpoint, and
// where the varints of the seqs after it start in far.
type lineMark struct{ line, far int }

const lineCheckpoint = 256

func (l *lineLog) init(max int) {
	l.next = l.mapped(max/8 + 1)
	// A line the next does not follow takes a byte or two as a rule; past
	// that, far grows on the Go heap.
	l.far = l.mapped(2 * max)
}

// mapped returns an empty slice of capacity n in memory the collector does
// not manage, or nil.
func (l *lineLog) mapped(n int) []byte {
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	l.mem = append(l.mem, mem)
	return mem[:0]
}

func (l *lineLog) free() {
	for _, m := range l.mem {
		syscall.Munmap(m)
	}
	l.mem, l.next, l.far, l.marks = nil, nil, nil, nil
}

// add records the line of seq, the next entry.
func (l *lineLog) add(seq, line int) {
	switch {
	case seq%lineCheckpoint == 0:
		l.marks = append(l.marks, lineMark{line: line, far: len(l.far)})
	case line == l.last+1:
		for len(l.next) <= seq/8 {
			l.next = append(l.next, 0)
		}
		l.next[seq/8] |= 1 << (seq % 8)
	default:
		l.far = binary.AppendVarint(l.far, int64(line-l.last))
	}
	l.last = line
}

// at returns the line of seq.
func (l *lineLog) at(seq int) int {
	c := seq / lineCheckpoint
	line, off := l.marks[c].line, l.marks[c].far
	for s := c*lineCheckpoint + 1; s <= seq; s++ {
		if s/8 < len(l.next) && l.next[s/8]&(1<<(s%8)) != 0 {
			line++
			continue
		}
		d, n := binary.Varint(l.far[off:])
		line += int(d)
		off += n
	}
	return line
}

// Find returns the line key was first added with, without adding it. A
// key whose hash shares a slot's bits with another's finds that one's line
// (about once in a million at a million keys): callers that must be exact
// check what is on that line.
func (f *FirstLines) Find(key uint64) (int, bool) {
	if seq, ok := f.table.find(mix(key)); ok {
		return f.lines.at(seq), true
	}
	if f.db == nil {
		return 0, false
	}
	var line int
	if err := f.get.QueryRow(int64(key)).Scan(&line); err != nil {
		return 0, false
	}
	return line, true
}
