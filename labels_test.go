package ebb

import (
	"errors"
	"testing"
)

func TestLabels(t *testing.T) {
	l := Labels{"run": "abc", "user": "ann"}
	m := l.Merge(Labels{"user": "bob", "program": "align"})
	if got, want := m.String(), "program=align,run=abc,user=bob"; got != want {
		t.Errorf("Merge = %q, want %q", got, want)
	}
	if l["user"] != "ann" || len(l) != 2 {
		t.Errorf("Merge changed its receiver: %v", l)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []Labels{{"": "x"}, {"a b": "x"}, {"k": "a,b"}, {"k": "a\nb"}, {"k": "a=b"}} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) = %v, want ErrInvalid", map[string]string(bad), err)
		}
	}
}
