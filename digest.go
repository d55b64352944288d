package ebb

import (
	_ "crypto/sha256" // registers the hash behind digest.SHA256
	"encoding/binary"
	"hash"

	"github.com/opencontainers/go-digest"
)

// A Digester computes a sha256 [digest.Digest] over a sequence of fields
// without ambiguity: every field is written with its length first, so
// ("ab", "c") and ("a", "bc") digest differently. Tasks and execs are
// identified this way, from exactly what determines their result.
//
// The zero value is not usable; call NewDigester. A Digester is not safe
// for concurrent use.
type Digester struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

// NewDigester returns an empty Digester.
func NewDigester() *Digester {
	return &Digester{h: digest.SHA256.Hash()}
}

// WriteString adds one string field.
func (d *Digester) WriteString(s string) {
	d.writeLen(len(s))
	d.h.Write([]byte(s))
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
	k := binary.PutUvarint(d.buf[:], uint64(n))
	d.h.Write(d.buf[:k])
}

// Digest returns the digest of the fields written so far.
func (d *Digester) Digest() digest.Digest {
	return digest.NewDigest(digest.SHA256, d.h)
}
