package spool

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Progress is how far a spool has got, as [Peek] reads it from the files.
type Progress struct {
	Acked uint64 // highest acknowledged sequence number (the checkpoint)
	Last  uint64 // highest sequence number written to a segment
}

// Pending reports whether entries were written that are not acknowledged yet.
func (p Progress) Pending() bool { return p.Last > p.Acked }

// Peek reads the progress of the spool in dir without opening it, so that another
// process may hold it open and go on appending and acknowledging meanwhile (a backup
// beside a running server). A missing directory is an empty spool.
//
// Every entry whose Append returned before Peek was called has a sequence number at most
// Last: it was fsynced in a segment that Peek lists. Last may also count entries written
// but not yet fsynced, whose Append has not returned; waiting for those too is harmless.
// A frame being written as Peek reads (short, or failing its checksum) ends the scan.
func Peek(dir string) (Progress, error) {
	var p Progress
	acked, err := readCheckpoint(dir)
	if err != nil {
		return p, err
	}
	p.Acked, p.Last = acked, acked
	firsts, err := listSegments(dir)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	// The newest segment holds the newest entries; when it has none yet (or its header is
	// being written), the one before it ends where the newest begins.
	for i := len(firsts) - 1; i >= 0; i-- {
		last, ok, err := lastInSegment(filepath.Join(dir, segmentName(firsts[i])), firsts[i])
		if err != nil {
			return p, err
		}
		if ok {
			p.Last = max(p.Last, last)
			return p, nil
		}
	}
	return p, nil
}

// lastInSegment returns the sequence number of the last whole frame of a segment, first-1
// when it has none, and false when its header cannot be read (a segment being created,
// or removed by an Ack as Peek reads).
func lastInSegment(path string, first uint64) (uint64, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	hdr := make([]byte, headerSize)
	n, err := f.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, false, err
	}
	if hfirst, _, err := decodeHeader(hdr[:n]); err != nil || hfirst != first {
		return 0, false, nil
	}
	last := first - 1
	fr := newFrameReader(f, path, headerSize, fi.Size())
	for {
		seq, _, err := fr.next()
		if err != nil || seq != last+1 {
			// io.EOF at the end; a torn or half-written frame stops the scan too.
			return last, true, nil
		}
		last = seq
	}
}
