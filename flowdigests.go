package ebb

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/opencontainers/go-digest"
)

// Digests returns every task's digest, indexed like Flow.Tasks. An input
// from another task stands for that task's digest and the output's name,
// so digests are known before anything runs and a task found in the cache
// is skipped without running the tasks it depends on. paths gives the
// digest of the content of each local file named by an Input.Path; a path
// missing from it is an error wrapping ErrInvalid.
//
// The digests of up to 256 tasks share one string: a digest kept after
// the flow is gone keeps its neighbours' (at most 18 KiB) with it. Copy
// it (strings.Clone) to keep one digest of a big flow for long.
//
// In a flow of thousands of tasks, Digests computes on up to GOMAXPROCS
// goroutines, which end before it returns; the digests do not depend on
// how many. Like every reader of the graph, it must not run while the
// flow changes.
func (g *Graph) Digests(paths map[string]digest.Digest) ([]digest.Digest, error) {
	tasks := g.Flow.Tasks
	out := make([]digest.Digest, len(tasks))
	// The tasks that read no other task's output depend on no digest
	// computed here: in a big flow, goroutines share them out first.
	if w := min(runtime.GOMAXPROCS(0), len(tasks)/parallelDigests); w > 1 {
		var wg sync.WaitGroup
		for k := range w {
			lo, hi := k*len(tasks)/w, (k+1)*len(tasks)/w
			wg.Go(func() { g.digestsAlone(paths, out, lo, hi) })
		}
		wg.Wait()
	}
	c := digestChunks{out: out}
	var inputs []digest.Digest
	var scratch []byte // the digests of the outputs the task reads
	d := NewDigester()
	for n, i := range g.Order {
		if out[i] != "" {
			continue // done above
		}
		t := &tasks[i]
		inputs, scratch = inputs[:0], scratch[:0]
		for _, in := range t.Inputs {
			switch {
			case in.Task != "":
				j, _ := g.Index(in.Task)
				if out[j] == "" {
					c.flush()
				}
				d.Reset()
				d.WriteString("output")
				d.WriteDigest(out[j])
				d.WriteString(in.Output)
				// Written into scratch, and read only by this task's
				// appendDigest: no string of its own.
				n := len(scratch)
				scratch = d.appendDigest(scratch)
				inputs = append(inputs, digest.Digest(unsafe.String(&scratch[n], digestLen)))
			case in.Digest != "":
				inputs = append(inputs, in.Digest)
			default:
				d, ok := paths[in.Path]
				if !ok {
					return nil, fmt.Errorf("task %q: input %q: no digest for path %q: %w", t.Name, in.Name, in.Path, ErrInvalid)
				}
				inputs = append(inputs, d)
			}
		}
		c.reserve(len(g.Order) - n)
		c.chunk = t.appendDigest(d, inputs, c.chunk)
		c.done(i)
	}
	c.flush()
	return out, nil
}

// parallelDigests is how many tasks of a flow make Digests start
// another goroutine.
const parallelDigests = 2048

// digestsAlone writes into out the digests of the tasks from lo to hi
// that read no other task's output, but for those missing the digest of
// a path, left to the caller (which reports the first in order).
func (g *Graph) digestsAlone(paths map[string]digest.Digest, out []digest.Digest, lo, hi int) {
	c := digestChunks{out: out}
	var inputs []digest.Digest
	d := NewDigester()
tasks:
	for i := lo; i < hi; i++ {
		t := &g.Flow.Tasks[i]
		inputs = inputs[:0]
		for _, in := range t.Inputs {
			switch {
			case in.Task != "":
				continue tasks
			case in.Digest != "":
				inputs = append(inputs, in.Digest)
			default:
				d, ok := paths[in.Path]
				if !ok {
					continue tasks
				}
				inputs = append(inputs, d)
			}
		}
		c.reserve(hi - i)
		c.chunk = t.appendDigest(d, inputs, c.chunk)
		c.done(int32(i))
	}
	c.flush()
}

// digestChunks writes digests into arrays of up to chunkLen of them,
// each one allocation that they share as strings, made without a copy:
// a byte once written there is never written again. chunk is the part
// of the array not yet shared, pending the tasks whose digests are in
// it, in order. A task that reads a digest still in chunk shares it
// early (flush) and goes on in the rest of the array.
type digestChunks struct {
	out     []digest.Digest
	chunk   []byte
	pending []int32
}

const chunkLen = 256

// reserve makes room in chunk for a digest, at most left more to come.
func (c *digestChunks) reserve(left int) {
	if cap(c.chunk)-len(c.chunk) < digestLen {
		c.flush()
		c.chunk = make([]byte, 0, min(left, chunkLen)*digestLen)
	}
}

// done records that the digest last appended to chunk is task i's.
func (c *digestChunks) done(i int32) {
	if c.pending = append(c.pending, i); len(c.pending) == chunkLen {
		c.flush()
	}
}

// flush shares the digests in chunk as strings.
func (c *digestChunks) flush() {
	if len(c.chunk) == 0 {
		return
	}
	s := unsafe.String(&c.chunk[0], len(c.chunk))
	for k, i := range c.pending {
		c.out[i] = digest.Digest(s[k*digestLen : (k+1)*digestLen])
	}
	c.chunk, c.pending = c.chunk[len(c.chunk):], c.pending[:0]
}
