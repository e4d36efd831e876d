package emulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// Fault kinds accepted by --faults and counted in Stats.Faults. Each applies
// to a write (create, update or delete) that passed validation.
const (
	// Fault500 answers 500 api_error; nothing is written.
	Fault500 = "500"
	// Fault529 answers 529 overloaded_error; nothing is written.
	Fault529 = "529"
	// FaultReset drops the connection before anything is written.
	FaultReset = "reset"
	// FaultLost applies the write, then drops the connection without answering.
	FaultLost = "lost"
	// FaultSlow applies the write, then answers only after Config.SlowDelay.
	FaultSlow = "slow"
	// FaultLate holds the request for Config.SlowDelay and only then applies
	// the write, whether or not the client is still waiting (it has usually
	// given up by then), and answers if it is: a server that works through
	// a request its client has abandoned.
	FaultLate = "late"
)

// numFaultKinds is the number of fault kinds.
const numFaultKinds = 6

// Indices of the kinds in faultKinds, as faultDrawer.draw returns them.
const (
	idx500 = iota
	idx529
	idxReset
	idxLost
	idxSlow
	idxLate
	noFault = -1
)

// faultKinds lists the kinds in the fixed order in which a draw is mapped to a
// kind; the order is part of what makes a seed reproducible.
func faultKinds() [numFaultKinds]string {
	return [numFaultKinds]string{Fault500, Fault529, FaultReset, FaultLost, FaultSlow, FaultLate}
}

// Faults maps a fault kind to the probability that a write suffers it.
// Kinds are disjoint: one uniform draw per write picks at most one kind, so
// the probabilities must add up to at most 1.
type Faults map[string]float64

// ParseFaults parses a --faults spec, a comma-separated list of KIND=PROBABILITY
// such as "500=0.05,lost=0.01". An empty spec means no faults.
func ParseFaults(spec string) (Faults, error) {
	f := Faults{}
	if strings.TrimSpace(spec) == "" {
		return f, nil
	}
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("faults %q: empty entry; write KIND=PROBABILITY separated by commas", spec)
		}
		kind, prob, ok := strings.Cut(entry, "=")
		kind, prob = strings.TrimSpace(kind), strings.TrimSpace(prob)
		if !ok {
			return nil, fmt.Errorf("faults: %q is not KIND=PROBABILITY", entry)
		}
		if _, dup := f[kind]; dup {
			return nil, fmt.Errorf("faults: %s is given twice", kind)
		}
		p, err := strconv.ParseFloat(prob, 64)
		if err != nil {
			return nil, fmt.Errorf("faults: %s: %q is not a number", kind, prob)
		}
		f[kind] = p
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// validate checks kinds and probabilities; New calls it so that a Faults map
// built in code gets the same checks as a parsed spec.
func (f Faults) validate() error {
	known := faultKinds()
	sum := 0.0
	for kind, p := range f {
		if !isFaultKind(kind) {
			return fmt.Errorf("faults: unknown kind %q; use one of %s", kind, strings.Join(known[:], ", "))
		}
		if math.IsNaN(p) || p < 0 || p > 1 {
			return fmt.Errorf("faults: %s=%v: probability must be between 0 and 1", kind, p)
		}
		sum += p
	}
	// A little slack for decimal specs such as 0.1 x 10 whose float sum exceeds 1.
	if sum > 1+1e-9 {
		return fmt.Errorf("faults: probabilities add up to %g; one draw per request picks at most one fault, so the sum must be at most 1", sum)
	}
	return nil
}

// String renders f as a spec in the fixed kind order, e.g. "500=0.1,lost=0.05".
func (f Faults) String() string {
	var parts []string
	for _, kind := range faultKinds() {
		if p := f[kind]; p > 0 {
			parts = append(parts, kind+"="+strconv.FormatFloat(p, 'g', -1, 64))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

func isFaultKind(kind string) bool {
	for _, k := range faultKinds() {
		if k == kind {
			return true
		}
	}
	return false
}

// faultDrawer picks a fault for each write from a seeded source. The mutex
// serialises draws so that the sequence of kinds depends only on the seed
// and the order in which writes reach the draw.
type faultDrawer struct {
	mu    sync.Mutex
	rng   *rand.Rand
	probs [numFaultKinds]float64 // indexed like faultKinds
	any   bool
}

func newFaultDrawer(f Faults, seed int64) *faultDrawer {
	d := &faultDrawer{rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
	for i, kind := range faultKinds() {
		d.probs[i] = f[kind]
		d.any = d.any || f[kind] > 0
	}
	return d
}

// draw returns the index into faultKinds of the fault to inject, or noFault.
// Exactly one number is drawn per call when any fault is configured.
func (d *faultDrawer) draw() int {
	if !d.any {
		return noFault
	}
	d.mu.Lock()
	u := d.rng.Float64()
	d.mu.Unlock()
	acc := 0.0
	for i, p := range d.probs {
		acc += p
		if u < acc {
			return i
		}
	}
	return noFault
}
