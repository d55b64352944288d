package remote

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/ebbflow/ebb"
)

// MinTokenLen is the shortest token a server or client accepts, in bytes.
const MinTokenLen = 16

// NewToken returns a fresh random token: 32 bytes from crypto/rand, in
// hex.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validToken returns an error wrapping ebb.ErrInvalid, which does not
// show the token, unless it is at least MinTokenLen printable ASCII
// characters without spaces: what fits in a header as it is.
// CheckToken fails with ebb.ErrInvalid when token is not one a server or
// client accepts: at least MinTokenLen printable ASCII characters.
func CheckToken(token string) error { return validToken("token", token) }

func validToken(field, token string) error {
	if len(token) < MinTokenLen {
		return fmt.Errorf("remote: %s: want at least %d characters, have %d: %w", field, MinTokenLen, len(token), ebb.ErrInvalid)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("remote: %s: character %d is not printable ASCII: %w", field, i, ebb.ErrInvalid)
		}
	}
	return nil
}

// tokenCheck compares bearer tokens with a known one in constant time:
// both are hashed first, so that neither the content nor the length of
// the known token leaks through timing.
type tokenCheck [sha256.Size]byte

func newTokenCheck(token string) tokenCheck { return sha256.Sum256([]byte(token)) }

// ok reports whether r carries "Authorization: Bearer TOKEN" with the
// known token.
func (c *tokenCheck) ok(r *http.Request) bool {
	got, found := bearer(r)
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], c[:]) == 1 && found
}

// bearer returns the token of r's "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// refuse answers a request without the right credentials: 401, and no
// hint of what the server serves.
func refuse(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="ebb"`)
	writeJSON(w, http.StatusUnauthorized, wireError{
		Kinds:   []string{kindUnauthenticated},
		Message: "missing or wrong credentials (bearer token, client certificate)",
	})
}
