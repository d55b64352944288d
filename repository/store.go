package repository

import (
	"context"

	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// A Store is a content-addressed blob store: a blob is named by the sha256
// digest of its content. It is what a pool needs ([pool.Repository]) plus
// Stat and the file variants a pool uses to stage inputs and collect
// outputs without copying through its own memory.
//
// Implementations must be safe for concurrent use. Every method fails with
// an error wrapping ebb.ErrInvalid, naming the value, when given a digest
// that is malformed or not sha256, and with ebb.ErrNotExist when the blob
// is missing. Every method returns an error wrapping ctx.Err() once ctx is
// done, and a call that fails leaves nothing half-written behind.
// Package repositorytest checks all of this for any implementation, and
// has one in memory.
type Store interface {
	pool.Repository

	// Stat returns the digest and size of a stored blob without reading
	// it; it does not verify the content.
	Stat(ctx context.Context, d digest.Digest) (Info, error)

	// PutFile stores the content of the regular file at path and returns
	// its digest. The file is neither moved nor changed.
	PutFile(ctx context.Context, path string) (digest.Digest, error)

	// GetFile writes the blob d to a new read-only file at path,
	// replacing any file there; path's directory must exist. The file
	// appears whole or not at all, and only after its content was
	// verified against d (ebb.ErrCorrupt otherwise). Implementations may
	// share storage with the blob (a hard link) only if the caller cannot
	// write through path without first changing its mode.
	GetFile(ctx context.Context, d digest.Digest, path string) error
}

// Info describes a stored blob.
type Info struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}
