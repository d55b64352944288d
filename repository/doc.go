// Package repository stores what tasks read and write: a content-addressed
// blob store ([Store], implemented on a local directory by [Dir]) and a
// task-result cache ([Cache], implemented by [DirCache]).
//
// Content-addressed means a blob is named by the sha256 digest of its bytes
// (a go-digest [digest.Digest] such as "sha256:2cf2…"): Put returns the name,
// Get takes it back. The same bytes always get the same name, so storing
// them twice stores them once, and a blob never changes once stored. The
// cache maps a task digest (see [ebb.Digester]) to the [pool.Result] of the
// task, so that a resumed or repeated run skips the tasks it finds there.
//
// Both live under one root directory, which they may share:
//
//	<root>/blobs/sha256/<2 hex>/<64 hex>         a blob, read-only (0444)
//	<root>/cache/sha256/<2 hex>/<64 hex>.json    a cache entry, read-only
//	<root>/tmp/                                  files being written
//
// A process that dies while writing may leave a file in <root>/tmp; nothing
// ever reads those, and they may be deleted while no process is writing.
//
// Nothing is removed in the course of use. To free space, [Collect] walks
// both ([Dir.Walk], [DirCache.Walk]), decides by age and size what no saved
// run needs ([Plan]) and removes it ([DirCache.Delete], [Dir.Remove]);
// removing only unlinks, so readers of a removed blob are not disturbed.
//
// Guarantees, for both:
//
//   - Atomic: every file is written whole under a temporary name in
//     <root>/tmp, synced, renamed into place, and its directory synced. A
//     reader sees the old file or the new one, never part of one, and what
//     a call reported stored survives a crash of the machine. A
//     [BatchCache] trades the last for speed: its entries survive a
//     crash of the process at once, and one of the machine once synced,
//     in batches, at most a second later or on its Sync.
//   - Verified: a blob is hashed as it is read and a mismatch fails the read
//     with [ebb.ErrCorrupt]; a cache entry is a versioned JSON envelope
//     that names its own key and its result's digest, so a damaged entry
//     reads as ErrCorrupt, never as a wrong result.
//   - Multi-process safe: any number of goroutines and processes may use
//     one root at once, with no locks (see [Dir] for why none are needed).
//
// Errors wrap the kinds of package ebb: [ebb.ErrNotExist] for a missing blob
// or entry, [ebb.ErrInvalid] for a malformed digest (the message names it),
// [ebb.ErrCorrupt] for stored data that fails verification. Other errors
// come from the file system and wrap its *fs.PathError.
package repository
