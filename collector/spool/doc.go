// Package spool is a durable write-ahead log of opaque entries on local disk, so that
// tamtam can acknowledge a submission as soon as its anonymised record is fsynced here,
// instead of waiting for a ClickHouse insert. A drainer later copies the entries to
// ClickHouse in large batches and acknowledges them with [Spool.Ack].
//
// # Guarantees
//
//   - [Spool.Append] returns nil only after the entries and their frames are written and
//     fsynced (and, for a new segment file, the directory too). A process killed with
//     SIGKILL, or a machine that loses power, loses no entry whose Append returned nil.
//   - An Append is all or nothing: its entries are written in one write(2) of their
//     group and are contiguous, in order, with strictly increasing sequence numbers that
//     keep increasing across restarts.
//   - When the spool holds [Options.MaxBytes] of unacknowledged frames, or the disk is
//     full, Append returns an error wrapping [ErrFull] and nothing is acknowledged, so
//     the server can answer 503 and the client retry.
//   - [Spool.Ack] is durable when it returns: acknowledged entries are never handed out
//     again, even after a crash. Entries after the last durable Ack are, so a drainer
//     that crashes between its insert and its Ack inserts a batch twice; tamtam's inserts
//     are deduplicated by submission id.
//
// A failed Append does not return its entries' sequence numbers (later entries get
// them) and, in the normal case, its bytes are truncated away. If even that undo fails (the disk vanished, fsync keeps
// failing) the spool refuses further Appends until it is reopened, and the failed group
// may then be replayed although its Append returned an error. Callers that retry a
// failed Append must therefore tolerate a duplicate, which tamtam does by submission id.
//
// # Group commit
//
// One writer goroutine owns the open segment. Concurrent Appends queue on a channel;
// while the writer waits for an fsync the queue fills, and the next group takes every
// queued Append (up to 16 MiB) into one write and one fsync. The cost of an fsync is
// thus shared by all the requests that arrived during the previous one, which is what
// makes a durable acknowledgement affordable under load.
//
// # Files
//
// The directory holds segment files named after the sequence number of their first
// entry (00000000000000000001.seg), a checkpoint file holding the highest acknowledged
// sequence number, a lock file that keeps a second process out, and a 64 KiB reserve
// file that Ack deletes when the disk is too full to write the checkpoint, so that a
// full disk can always be drained. A segment starts
// with a 32-byte header (magic, version, first sequence number, creation time, CRC) and
// then holds frames:
//
//	length  uint32  little-endian, length of data
//	crc     uint32  CRC-32C (Castagnoli) of seq and data
//	seq     uint64
//	data    [length]byte
//
// A segment rolls when the next group would take it past [Options.SegmentBytes]. The
// checkpoint is replaced atomically (temp file, fsync, rename, directory fsync) and
// segments whose entries are all acknowledged are then deleted.
//
// # Recovery
//
// [Open] replays the segments after the checkpoint. Only the last segment can end in
// a torn write, because every earlier group was fsynced before the next one started:
// a bad frame there (short, wrong CRC, wrong sequence number) and everything after it
// is truncated, provided it lies within the last 16 MiB, the most one unsynced group can
// span. Any other damage is reported as [ErrCorrupt] naming the file and offset, rather
// than silently dropping acknowledged data.
//
// # Reading
//
// Entries are not kept in memory: [Spool.Read] re-reads them from the segment files
// (usually from the page cache, since a drainer trails the writer closely), so a large
// backlog while ClickHouse is down costs disk, not memory. A single drainer does:
//
//	after := uint64(0)
//	for {
//		batch, err := sp.Read(after, 10000)
//		// handle err
//		if len(batch) == 0 {
//			select {
//			case <-sp.Notify():
//			case <-ctx.Done():
//				return
//			}
//			continue
//		}
//		// insert batch elsewhere; on failure retry the same batch
//		if err := sp.Ack(batch[len(batch)-1].Seq); err != nil { ... }
//		after = batch[len(batch)-1].Seq
//	}
package spool
