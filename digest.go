package ebb

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/opencontainers/go-digest"
)

// A Digester computes a sha256 [digest.Digest] over a sequence of fields
// without ambiguity: every field is written with its length first, so
// ("ab", "c") and ("a", "bc") digest differently. Tasks and execs are
// identified this way, from exactly what determines their result.
//
// Fields are gathered in a buffer and hashed in blocks, so writing a
// field allocates nothing; Reset makes the Digester ready for the next
// digest, so one Digester serves many (a flow's tasks).
//
// The zero value is not usable; call NewDigester. A Digester is not safe
// for concurrent use.
type Digester struct {
	h   hash.Hash
	buf []byte // written fields not yet hashed
	sum []byte // scratch for the hash's sum, made once
}

// flushAt is how many buffered bytes are handed to the hash at once.
const flushAt = 4 << 10

// NewDigester returns an empty Digester.
func NewDigester() *Digester {
	return &Digester{h: sha256.New(), buf: make([]byte, 0, flushAt+binary.MaxVarintLen64)}
}

// Reset empties the Digester, as NewDigester returns it.
func (d *Digester) Reset() {
	d.h.Reset()
	d.buf = d.buf[:0]
}

// WriteString adds one string field.
func (d *Digester) WriteString(s string) {
	d.writeLen(len(s))
	for len(s) > 0 {
		n := min(len(s), flushAt-len(d.buf))
		d.buf = append(d.buf, s[:n]...)
		s = s[n:]
		d.flushFull()
	}
}

// WriteStrings adds a list of strings as one field: its length, then each.
func (d *Digester) WriteStrings(ss []string) {
	d.writeLen(len(ss))
	for _, s := range ss {
		d.WriteString(s)
	}
}

// WriteDigest adds another digest as one field.
func (d *Digester) WriteDigest(x digest.Digest) { d.WriteString(string(x)) }

func (d *Digester) writeLen(n int) {
	d.buf = binary.AppendUvarint(d.buf, uint64(n))
	d.flushFull()
}

// flushFull hashes the buffer once it holds flushAt bytes or more.
func (d *Digester) flushFull() {
	if len(d.buf) >= flushAt {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
}

// Digest returns the digest of the fields written so far. It may be
// called again after more fields are written.
func (d *Digester) Digest() digest.Digest {
	var out [digestLen]byte
	return digest.Digest(d.appendDigest(out[:0]))
}

// digestLen is the length of a digest that Digest returns.
const digestLen = len(digestPrefix) + 2*sha256.Size

const digestPrefix = string(digest.SHA256) + ":"

// appendDigest appends the digest of the fields written so far to dst,
// as Digest returns it, and returns the extended slice.
func (d *Digester) appendDigest(dst []byte) []byte {
	if len(d.buf) > 0 {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
	d.sum = d.h.Sum(d.sum[:0])
	dst = append(dst, digestPrefix...)
	return appendHex(dst, (*[sha256.Size]byte)(d.sum))
}

// appendHex appends sum in lowercase hex, as hex.Encode would, into an
// array of fixed size where the compiler checks no index.
func appendHex(dst []byte, sum *[sha256.Size]byte) []byte {
	const digits = "0123456789abcdef"
	var out [2 * sha256.Size]byte
	for i, b := range sum {
		out[2*i], out[2*i+1] = digits[b>>4], digits[b&0xf]
	}
	return append(dst, out[:]...)
}
