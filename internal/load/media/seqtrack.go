package media

// seqTracker counts what one RTP stream lost, from its 16-bit sequence
// numbers, as RFC 3550 §6.4.1 and appendix A.1 do: expected is the extended
// highest number seen minus the first one, plus one; lost is expected minus
// received. It also tells apart what arrives late (reordered, or a
// retransmission filling a gap: it counts as received) from what arrives
// twice (a duplicate: it does not), over the last seqWindow numbers.
//
// It is not safe for concurrent use: one track's reader owns it.
type seqTracker struct {
	started  bool
	base     int64 // extended number of the first packet
	highest  int64 // extended highest number seen
	received int64 // distinct packets
	dups     int64
	late     int64 // arrived after a higher number
	gaps     int64 // jumps forward over at least one number
	seen     [seqWindow / 64]uint64
}

// seqWindow is how far back duplicates are recognised; anything older
// counts as received, as RFC 3550 would.
const seqWindow = 1024

func (t *seqTracker) bit(ext int64) (word int, mask uint64) {
	i := ext & (seqWindow - 1)
	return int(i / 64), 1 << (i % 64)
}

// add records one packet's sequence number.
func (t *seqTracker) add(seq uint16) {
	if !t.started {
		t.started = true
		t.base, t.highest = int64(seq), int64(seq)
		t.received = 1
		w, m := t.bit(int64(seq))
		t.seen[w] |= m
		return
	}
	// The distance from the highest, taken modulo 2^16 as a signed number:
	// a wrap from 65535 to 0 is a step of one.
	d := int64(int16(seq - uint16(t.highest)))
	ext := t.highest + d
	switch {
	case d > 0:
		if d > 1 {
			t.gaps++
		}
		// Forget the numbers the window slides past.
		if d >= seqWindow {
			clear(t.seen[:])
		} else {
			for e := t.highest + 1; e < ext; e++ {
				w, m := t.bit(e)
				t.seen[w] &^= m
			}
		}
		t.highest = ext
	case d == 0:
		t.dups++
		return
	default:
		if ext < t.base {
			// Older than the first packet: it extends the stream backwards.
			t.base = ext
		}
		if t.highest-ext < seqWindow {
			if w, m := t.bit(ext); t.seen[w]&m != 0 {
				t.dups++
				return
			}
		}
		t.late++
	}
	w, m := t.bit(ext)
	t.seen[w] |= m
	t.received++
}

// expected is how many packets the stream held from the first to the highest seen.
func (t *seqTracker) expected() int64 {
	if !t.started {
		return 0
	}
	return t.highest - t.base + 1
}

// lost is expected minus received, never negative.
func (t *seqTracker) lost() int64 {
	return max(t.expected()-t.received, 0)
}
