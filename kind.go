package ebb

import (
	"path"
	"strings"
)

// KindName returns the task's kind (see Task.Kind): Kind when set, else
// for a Go function the stem of its FuncKey (without a version suffix
// such as "/v2" and a trailing number: "count-words" for
// "count-words/v2", "shard" for "shard-17"), else the command's program
// (its base name) and the stem of the task's name, the name without its
// trailing number and separators, joined by a colon: "wc:count" for a
// task "count-12" that runs wc. Tasks of one kind are expected to run
// about as long as each other.
func (t *Task) KindName() string {
	switch {
	case t.Kind != "":
		return t.Kind
	case t.Func != nil || t.FuncKey != "":
		return nameStem(withoutVersion(t.FuncKey))
	}
	prog := ""
	if len(t.Argv) > 0 {
		prog = path.Base(t.Argv[0])
	}
	return prog + ":" + nameStem(t.Name)
}

// nameStem returns name without its trailing digits and the separators
// before them: "part-003" → "part", "chr1.split_2" → "chr1.split".
func nameStem(name string) string {
	stem := strings.TrimRight(name, "0123456789")
	if stem == name {
		return name
	}
	stem = strings.TrimRight(stem, "-_.:/ ")
	if stem == "" {
		return name
	}
	return stem
}

// withoutVersion returns key without a trailing "/vN" version.
func withoutVersion(key string) string {
	i := strings.LastIndex(key, "/v")
	if i <= 0 || i+2 == len(key) || strings.TrimLeft(key[i+2:], "0123456789") != "" {
		return key
	}
	return key[:i]
}
