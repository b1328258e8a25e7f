package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	segmentExt     = ".seg"
	checkpointName = "checkpoint"
	lockName       = "lock"
	reserveName    = "reserve"
	reserveBytes   = 64 << 10

	// headerSize is the size of a segment header: magic (8), version (4), CRC (4) of
	// the rest, first sequence number (8), creation time in Unix nanoseconds (8).
	headerSize    = 32
	headerMagic   = "tamspool"
	headerVersion = 1

	// frameHeader is the size of a frame before its data: length, CRC, sequence number.
	frameHeader = 16

	// maxGroupBytes bounds one group of frames written together, hence one Append. It
	// is also the longest tail that recovery treats as a torn write: only the last
	// group can be torn, since each group is fsynced before the next is written.
	maxGroupBytes = 16 << 20

	// checkpointSize: magic (4), CRC (4) of the sequence number, sequence number (8).
	checkpointSize  = 16
	checkpointMagic = "tsck"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by the errors of [Open] and [Spool.Read] when a segment or the
// checkpoint holds data that cannot be a torn write. The message names the file and
// offset; the spool is not repaired automatically because that would drop
// acknowledged entries.
var ErrCorrupt = errors.New("spool: corrupt data")

type corruptError struct {
	path   string
	off    int64
	reason string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("corrupt %s at offset %d: %s", e.path, e.off, e.reason)
}

func (e *corruptError) Unwrap() error { return ErrCorrupt }

func segmentName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, segmentExt)
}

// listSegments returns the first sequence numbers of the segment files in dir, in
// order. Other files are ignored.
func listSegments(dir string) ([]uint64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), segmentExt)
		if !ok || !de.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil || first == 0 {
			continue
		}
		firsts = append(firsts, first)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts, nil
}

func encodeHeader(first uint64, created time.Time) []byte {
	b := make([]byte, headerSize)
	copy(b, headerMagic)
	binary.LittleEndian.PutUint32(b[8:], headerVersion)
	binary.LittleEndian.PutUint64(b[16:], first)
	binary.LittleEndian.PutUint64(b[24:], uint64(created.UnixNano()))
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[16:], castagnoli))
	return b
}

func decodeHeader(b []byte) (first uint64, created time.Time, err error) {
	switch {
	case len(b) < headerSize:
		return 0, time.Time{}, errors.New("short segment header")
	case string(b[:8]) != headerMagic:
		return 0, time.Time{}, errors.New("not a spool segment")
	case binary.LittleEndian.Uint32(b[12:]) != crc32.Checksum(b[16:headerSize], castagnoli):
		return 0, time.Time{}, errors.New("segment header checksum mismatch")
	case binary.LittleEndian.Uint32(b[8:]) != headerVersion:
		return 0, time.Time{}, fmt.Errorf("segment version %d, want %d", binary.LittleEndian.Uint32(b[8:]), headerVersion)
	}
	first = binary.LittleEndian.Uint64(b[16:])
	created = time.Unix(0, int64(binary.LittleEndian.Uint64(b[24:])))
	return first, created, nil
}

// appendFrame appends the frame of one entry to buf.
func appendFrame(buf []byte, seq uint64, data []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(data)))
	binary.LittleEndian.PutUint64(h[8:], seq)
	crc := crc32.Update(0, castagnoli, h[8:])
	crc = crc32.Update(crc, castagnoli, data)
	binary.LittleEndian.PutUint32(h[4:], crc)
	buf = append(buf, h[:]...)
	return append(buf, data...)
}

// frameReader reads the frames of a segment between two offsets. Reading through its
// own buffer with pread lets it run while the writer appends past end.
type frameReader struct {
	path string
	br   *bufio.Reader
	off  int64 // offset of the next frame
	end  int64
	buf  []byte
}

func newFrameReader(f *os.File, path string, off, end int64) *frameReader {
	return &frameReader{
		path: path,
		br:   bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), 256<<10),
		off:  off,
		end:  end,
	}
}

// next returns the next frame. Its data is valid until the following call. It returns
// io.EOF exactly at the end and a *corruptError, at the frame's offset, for a frame
// that is short or fails its checksum. Once it returned an error it must not be called
// again.
func (fr *frameReader) next() (seq uint64, data []byte, err error) {
	rest := fr.end - fr.off
	if rest == 0 {
		return 0, nil, io.EOF
	}
	if rest < frameHeader {
		return 0, nil, fr.corrupt(fmt.Sprintf("short frame header (%d bytes)", rest))
	}
	var h [frameHeader]byte
	if _, err := io.ReadFull(fr.br, h[:]); err != nil {
		return 0, nil, fmt.Errorf("read %s at offset %d: %w", fr.path, fr.off, err)
	}
	n := int64(binary.LittleEndian.Uint32(h[0:]))
	if n > maxGroupBytes-frameHeader || n > rest-frameHeader {
		return 0, nil, fr.corrupt(fmt.Sprintf("frame length %d past the end (%d bytes left)", n, rest-frameHeader))
	}
	if int64(cap(fr.buf)) < n {
		fr.buf = make([]byte, n)
	}
	data = fr.buf[:n]
	if _, err := io.ReadFull(fr.br, data); err != nil {
		return 0, nil, fmt.Errorf("read %s at offset %d: %w", fr.path, fr.off, err)
	}
	crc := crc32.Update(0, castagnoli, h[8:])
	crc = crc32.Update(crc, castagnoli, data)
	if crc != binary.LittleEndian.Uint32(h[4:]) {
		return 0, nil, fr.corrupt("frame checksum mismatch")
	}
	fr.off += frameHeader + n
	return binary.LittleEndian.Uint64(h[8:]), data, nil
}

func (fr *frameReader) corrupt(reason string) error {
	return &corruptError{path: fr.path, off: fr.off, reason: reason}
}

// readCheckpoint returns the highest acknowledged sequence number, 0 if nothing was
// ever acknowledged.
func readCheckpoint(dir string) (uint64, error) {
	path := filepath.Join(dir, checkpointName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	// The file is only ever replaced by rename, so a bad one is not a torn write.
	if len(b) != checkpointSize || string(b[:4]) != checkpointMagic ||
		binary.LittleEndian.Uint32(b[4:]) != crc32.Checksum(b[8:], castagnoli) {
		return 0, &corruptError{path: path, reason: "bad checkpoint"}
	}
	return binary.LittleEndian.Uint64(b[8:]), nil
}

// writeCheckpoint atomically replaces the checkpoint with upTo.
func writeCheckpoint(dir string, upTo uint64) error {
	b := make([]byte, checkpointSize)
	copy(b, checkpointMagic)
	binary.LittleEndian.PutUint64(b[8:], upTo)
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))

	tmp := filepath.Join(dir, checkpointName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, checkpointName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir makes the creation, removal or renaming of a file in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
