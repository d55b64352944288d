package repository

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// Garbage collection frees a repository's space by age and by size while
// keeping what the caller says is still needed. Deciding is apart from
// doing: [Plan] is a pure function of what [Dir.Walk] and [DirCache.Walk]
// found; [Collect] walks, plans and removes.
//
// A blob's last use is the latest of its own ModTime and the ModTimes of
// the entries naming it among their outputs: a task that ran again and
// produced stored bytes leaves the blob's file as it was but writes a new
// entry.

// A Policy says what [Plan] may remove. The zero Policy removes only
// entries that are damaged or name a blob that is not stored.
type Policy struct {
	// Before, when not zero, removes the blobs last used before it and
	// the entries written before it, but for those kept below.
	Before time.Time
	// MaxSize, when positive, removes blobs, least recently used first,
	// until the blobs left take at most MaxSize bytes, or only kept and
	// pinned ones are left.
	MaxSize int64
	// Keep names blobs that nothing removes: the outputs a saved run still
	// needs. Every entry whose outputs include one of them, and are all
	// stored, is kept too, with all its outputs, so that a later run of
	// that task is served from the cache.
	Keep map[digest.Digest]bool
	// Pinned, if not nil, picks entries that MaxSize does not remove,
	// nor their outputs, but Before does (a flow's history, say).
	Pinned func(Entry) bool
}

// Garbage is what [Plan] removes and what it keeps because of
// Policy.Keep.
type Garbage struct {
	// Blobs and Entries are to be removed, in digest and key order.
	Blobs   []Blob
	Entries []Entry
	// Kept are the stored blobs kept because of Policy.Keep, directly or
	// as the other outputs of a kept entry, in digest order.
	Kept []Blob
}

// Size returns the total size of blobs.
func Size(blobs []Blob) int64 {
	var n int64
	for _, b := range blobs {
		n += b.Size
	}
	return n
}

// Plan decides which of blobs and entries to remove under p. It removes:
//
//   - an entry that is damaged (its Err wraps ebb.ErrCorrupt); an entry
//     of another version (any other Err) is left alone, unread;
//   - a blob not kept whose last use is before p.Before, and an entry not
//     kept written before p.Before;
//   - blobs not kept nor pinned, least recently used first, while the
//     total size of the blobs left is over p.MaxSize;
//   - every entry naming an output that is removed or not stored: the
//     runner would treat it as missing anyway.
//
// Kept entries (see [Policy]) are never removed. Plan does not change its
// arguments and the returned slices are the caller's.
func Plan(blobs []Blob, entries []Entry, p Policy) Garbage {
	stored := make(map[digest.Digest]Blob, len(blobs))
	lastUse := make(map[digest.Digest]time.Time, len(blobs))
	for _, b := range blobs {
		stored[b.Digest] = b
		lastUse[b.Digest] = b.ModTime
	}
	whole := func(e Entry) bool { // readable and every output stored
		if e.Err != nil {
			return false
		}
		for _, dg := range e.Result.Outputs {
			if _, ok := stored[dg]; !ok {
				return false
			}
		}
		return true
	}
	for _, e := range entries {
		if !whole(e) {
			continue
		}
		for _, dg := range e.Result.Outputs {
			if e.ModTime.After(lastUse[dg]) {
				lastUse[dg] = e.ModTime
			}
		}
	}

	kept := make(map[digest.Digest]bool)   // blobs nothing removes
	pinned := make(map[digest.Digest]bool) // blobs MaxSize does not remove
	keptEntry := make(map[digest.Digest]bool)
	for dg := range p.Keep {
		if _, ok := stored[dg]; ok {
			kept[dg] = true
		}
	}
	for _, e := range entries {
		if !whole(e) || !namesAny(e, p.Keep) {
			continue
		}
		keptEntry[e.Key] = true
		for _, dg := range e.Result.Outputs {
			kept[dg] = true
		}
	}
	old := func(t time.Time) bool { return !p.Before.IsZero() && t.Before(p.Before) }
	for _, e := range entries {
		if p.Pinned != nil && whole(e) && !old(e.ModTime) && p.Pinned(e) {
			for _, dg := range e.Result.Outputs {
				pinned[dg] = true
			}
		}
	}

	removed := make(map[digest.Digest]bool)
	var left []Blob // candidates for MaxSize
	var size int64  // of the blobs left
	for _, b := range blobs {
		switch {
		case kept[b.Digest]:
			size += b.Size
		case old(lastUse[b.Digest]):
			removed[b.Digest] = true
		default:
			size += b.Size
			if !pinned[b.Digest] {
				left = append(left, b)
			}
		}
	}
	if p.MaxSize > 0 && size > p.MaxSize {
		slices.SortFunc(left, func(a, b Blob) int {
			return cmp.Or(lastUse[a.Digest].Compare(lastUse[b.Digest]), cmp.Compare(a.Digest, b.Digest))
		})
		for _, b := range left {
			if size <= p.MaxSize {
				break
			}
			removed[b.Digest] = true
			size -= b.Size
		}
	}

	var g Garbage
	for _, b := range blobs {
		switch {
		case removed[b.Digest]:
			g.Blobs = append(g.Blobs, b)
		case kept[b.Digest]:
			g.Kept = append(g.Kept, b)
		}
	}
	for _, e := range entries {
		if keptEntry[e.Key] {
			continue
		}
		remove := errors.Is(e.Err, ebb.ErrCorrupt) || (e.Err == nil && old(e.ModTime))
		for _, dg := range e.Result.Outputs {
			if _, ok := stored[dg]; !ok || removed[dg] {
				remove = true
			}
		}
		if remove {
			g.Entries = append(g.Entries, e)
		}
	}
	slices.SortFunc(g.Blobs, func(a, b Blob) int { return cmp.Compare(a.Digest, b.Digest) })
	slices.SortFunc(g.Kept, func(a, b Blob) int { return cmp.Compare(a.Digest, b.Digest) })
	slices.SortFunc(g.Entries, func(a, b Entry) int { return cmp.Compare(a.Key, b.Key) })
	return g
}

// namesAny reports whether one of e's outputs is in set.
func namesAny(e Entry, set map[digest.Digest]bool) bool {
	for _, dg := range e.Result.Outputs {
		if set[dg] {
			return true
		}
	}
	return false
}

// Collect walks d and c, which may share a root, plans with p (see
// [Plan]) and, unless dryRun is set, removes what the plan says: the
// entries first, then the blobs, so that no entry names a removed blob at
// any moment. It returns the plan, and with an error what it did not
// remove.
//
// Collect is safe to run beside readers (see [Dir.Remove]), but a run
// writing to the repository while Collect runs may store an entry whose
// output Collect removes; such an entry reads as a miss to the runner and
// the next Collect removes it.
func Collect(ctx context.Context, d *Dir, c *DirCache, p Policy, dryRun bool) (Garbage, error) {
	var blobs []Blob
	var entries []Entry
	if err := d.Walk(ctx, func(b Blob) error { blobs = append(blobs, b); return nil }); err != nil {
		return Garbage{}, err
	}
	if err := c.Walk(ctx, func(e Entry) error { entries = append(entries, e); return nil }); err != nil {
		return Garbage{}, err
	}
	g := Plan(blobs, entries, p)
	if dryRun {
		return g, nil
	}
	for _, e := range g.Entries {
		if err := c.Delete(ctx, e.Key); err != nil {
			return g, err
		}
	}
	for _, b := range g.Blobs {
		if err := d.Remove(ctx, b.Digest); err != nil {
			return g, err
		}
	}
	return g, nil
}
