package ebb

import "testing"

func TestDigesterIsUnambiguous(t *testing.T) {
	sum := func(fields ...string) string {
		d := NewDigester()
		for _, f := range fields {
			d.WriteString(f)
		}
		return d.Digest().String()
	}
	if sum("ab", "c") == sum("a", "bc") {
		t.Error(`("ab","c") and ("a","bc") digest the same`)
	}
	if sum("a") != sum("a") {
		t.Error("digest not deterministic")
	}
	d1, d2 := NewDigester(), NewDigester()
	d1.WriteStrings([]string{"a", "b"})
	d2.WriteStrings([]string{"a"})
	d2.WriteString("b")
	if d1.Digest() == d2.Digest() {
		t.Error("a list and loose strings digest the same")
	}
	if err := d1.Digest().Validate(); err != nil {
		t.Errorf("digest %s: %v", d1.Digest(), err)
	}
}
