package runner

import (
	"errors"
	"fmt"

	"github.com/ebbflow/ebb"
)

// The names State.ErrKinds gives the error kinds of the root package. They
// are part of the State's format: a name, once written, keeps its meaning.
var kindNames = []struct {
	name string
	kind error
}{
	{"invalid", ebb.ErrInvalid},
	{"unavailable", ebb.ErrUnavailable},
	{"offer_gone", ebb.ErrOfferGone},
	{"expired", ebb.ErrExpired},
	{"not_exist", ebb.ErrNotExist},
	{"resources", ebb.ErrResources},
	{"corrupt", ebb.ErrCorrupt},
	{"closed", ebb.ErrClosed},
	{"timeout", ebb.ErrTimeout},
}

// errKinds returns the names of the ebb error kinds err is (by errors.Is),
// in the order of kindNames; nil if it is none of them.
func errKinds(err error) []string {
	var names []string
	for _, k := range kindNames {
		if errors.Is(err, k.kind) {
			names = append(names, k.name)
		}
	}
	return names
}

func kindOf(name string) error {
	for _, k := range kindNames {
		if k.name == name {
			return k.kind
		}
	}
	return nil
}

// validKinds checks that every name is one of kindNames.
func validKinds(names []string) error {
	for _, n := range names {
		if kindOf(n) == nil {
			return fmt.Errorf("state: err_kinds: unknown kind %q: %w", n, ebb.ErrInvalid)
		}
	}
	return nil
}

// stateError is an error rebuilt from a State: it reads as the error that
// was saved and is (by errors.Is) each of the kinds it was.
type stateError struct {
	msg   string
	kinds []error
}

func (e *stateError) Error() string   { return e.msg }
func (e *stateError) Unwrap() []error { return e.kinds }

// savedErr rebuilds the error s records; nil if it records none. Kind
// names this code does not know are left out (Validate refuses them).
func (s *State) savedErr() error {
	if s.Err == "" {
		return nil
	}
	e := &stateError{msg: s.Err}
	for _, n := range s.ErrKinds {
		if k := kindOf(n); k != nil {
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

// setErr records err (nil clears it) with its kinds.
func (s *State) setErr(err error) {
	if err == nil {
		s.Err, s.ErrKinds = "", nil
		return
	}
	s.Err, s.ErrKinds = err.Error(), errKinds(err)
}
