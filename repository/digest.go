package repository

import (
	"fmt"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// checkDigest returns an error wrapping ebb.ErrInvalid that names d unless d
// is a well-formed sha256 digest: "sha256:" and 64 lower-case hex digits.
// Since the hex part is checked, it is safe to use in a file name.
func checkDigest(what string, d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("repository: %s %q: %v: %w", what, d, err, ebb.ErrInvalid)
	}
	if alg := d.Algorithm(); alg != digest.SHA256 {
		return fmt.Errorf("repository: %s %q: algorithm %q not supported, want %q: %w",
			what, d, alg, digest.SHA256, ebb.ErrInvalid)
	}
	return nil
}
