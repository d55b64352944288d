package ebb

import (
	"path"
	"strings"
)

// KindName returns the task's kind (see Task.Kind): Kind when set, else
// for a Go function the stem of its FuncKey (without a version suffix
// such as "/v2": "count-words" for "count-words/v2", "shard" for
// "shard-17"), else the command's program (its base name) and the stem
// of the task's name joined by a colon: "wc:count" for a task "count-12"
// that runs wc. A stem is the name without its trailing number and the
// separators before it, and with every other number in it written "#":
// the numbers in a name tell one lane, sample, chromosome or shard from
// another, not one step of a workflow from another, so "chr1.split_2"
// and "chr21.split_7" are of one kind, "chr#.split", and the tasks of a
// step on a seventh lane are known from the six before it. Tasks of one
// kind are expected to run about as long as each other.
func (t *Task) KindName() string {
	switch {
	case t.Kind != "":
		return t.Kind
	case t.Func != nil || t.FuncKey != "":
		return maskNumbers(nameStem(withoutVersion(t.FuncKey)))
	}
	prog := ""
	if len(t.Argv) > 0 {
		prog = path.Base(t.Argv[0])
	}
	return prog + ":" + maskNumbers(nameStem(t.Name))
}

// maskNumbers returns s with every run of ASCII digits in it written "#".
func maskNumbers(s string) string {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		switch {
		case !isDigit(s[i]):
			b = append(b, s[i])
		case i == 0 || !isDigit(s[i-1]):
			b = append(b, '#')
		}
	}
	return string(b)
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// nameStem returns name without its trailing digits and the separators
// before them: "part-003" → "part", "chr1.split_2" → "chr1.split".
// (strings.TrimRight with these cutsets, without building their sets
// for every task.)
func nameStem(name string) string {
	stem := trimDigits(name)
	if len(stem) == len(name) {
		return name
	}
	for len(stem) > 0 && isStemSeparator(stem[len(stem)-1]) {
		stem = stem[:len(stem)-1]
	}
	if stem == "" {
		return name
	}
	return stem
}

// isStemSeparator reports whether c is one of "-_.:/ ".
func isStemSeparator(c byte) bool {
	switch c {
	case '-', '_', '.', ':', '/', ' ':
		return true
	}
	return false
}

// trimDigits returns s without its trailing ASCII digits.
func trimDigits(s string) string {
	for len(s) > 0 && isDigit(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// withoutVersion returns key without a trailing "/vN" version. (The
// last "/v" of key is followed by digits only exactly when key less its
// trailing digits ends with it.)
func withoutVersion(key string) string {
	rest := trimDigits(key)
	if len(rest) == len(key) || len(rest) <= 2 || !strings.HasSuffix(rest, "/v") {
		return key
	}
	return rest[:len(rest)-2]
}
