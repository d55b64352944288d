package local

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// TestIsLowerHex checks the eight-bytes-at-a-time check of exec IDs
// against the byte-wise one, for every byte value at every position.
func TestIsLowerHex(t *testing.T) {
	ref := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	base := []byte("0123456789abcdef0123456789abcdef")
	for pos := 0; pos < len(base); pos++ {
		for c := 0; c < 256; c++ {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			if got, want := isLowerHex(string(b)), ref(string(b)); got != want {
				t.Fatalf("isLowerHex(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

// TestPutBadResources: a func exec's resources are checked as
// Resources.Validate checks them, by Put and Call alike.
func TestPutBadResources(t *testing.T) {
	ctx := context.Background()
	a := callAlloc(t)
	fn := func(context.Context, ebb.FuncEnv) error { return nil }
	for _, res := range []ebb.Resources{
		{ebb.CPU: -1},
		{ebb.CPU: math.NaN()},
		{ebb.CPU: math.Inf(1)},
		{"Not A Key": 1},
		{ebb.CPU: 0.5, "": 1},
	} {
		want := res.Validate()
		if want == nil {
			t.Fatalf("%v: Validate = nil, want an error", res)
		}
		cfg := pool.ExecConfig{Func: fn, Resources: res}
		if _, err := a.Put(ctx, id("bad"), cfg); !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), want.Error()) {
			t.Errorf("Put with resources %v = %v, want ErrInvalid saying %q", res, err, want)
		}
		if _, err := a.Call(ctx, id("bad"), cfg); !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), want.Error()) {
			t.Errorf("Call with resources %v = %v, want ErrInvalid saying %q", res, err, want)
		}
	}
}
