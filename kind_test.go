package ebb

import (
	"context"
	"strings"
	"testing"
)

func TestKindName(t *testing.T) {
	f := func(context.Context, FuncEnv) error { return nil }
	for _, c := range []struct {
		task Task
		want string
	}{
		{Task{Name: "count-12", Argv: []string{"/usr/bin/wc", "-w"}}, "wc:count"},
		{Task{Name: "count-13", Argv: []string{"wc"}}, "wc:count"},
		{Task{Name: "chr1.split_2", Argv: []string{"split"}}, "split:chr#.split"},
		{Task{Name: "chr21.split_7", Argv: []string{"split"}}, "split:chr#.split"},
		{Task{Name: "filterContams_s_3_sequence_12", Argv: []string{"/bin/filter2"}}, "filter2:filterContams_s_#_sequence"},
		{Task{Name: "a1b22c3d", Argv: []string{"x"}}, "x:a#b#c#d"},
		{Task{Name: "merge", Argv: []string{"sh", "-c", "cat *"}}, "sh:merge"},
		{Task{Name: "42", Argv: []string{"x"}}, "x:#"},
		{Task{Name: "43", Argv: []string{"x"}}, "x:#"},
		{Task{Name: "t1", Func: f, FuncKey: "chr7-split/v2"}, "chr#-split"},
		{Task{Name: "t1", Func: f, FuncKey: "count-words/v2"}, "count-words"},
		{Task{Name: "t1", Func: f, FuncKey: "shard-17"}, "shard"},
		{Task{Name: "t1", Func: f, FuncKey: "align/3/v1"}, "align"},
		{Task{Name: "t1", Func: f, FuncKey: "tool/video"}, "tool/video"},
		{Task{Name: "t1", Argv: []string{"wc"}, Kind: "count"}, "count"},
	} {
		if got := c.task.KindName(); got != c.want {
			t.Errorf("%+v.KindName() = %q, want %q", c.task, got, c.want)
		}
	}
}

// TestNameStemTrimRight: nameStem and withoutVersion trim as
// strings.TrimRight and TrimLeft with their cutsets would, on every
// string of up to four bytes from an alphabet of digits, separators,
// letters and a byte of a multi-byte rune.
func TestNameStemTrimRight(t *testing.T) {
	stem := func(name string) string {
		s := strings.TrimRight(name, "0123456789")
		if s == name {
			return name
		}
		if s = strings.TrimRight(s, "-_.:/ "); s == "" {
			return name
		}
		return s
	}
	version := func(key string) string {
		i := strings.LastIndex(key, "/v")
		if i <= 0 || i+2 == len(key) || strings.TrimLeft(key[i+2:], "0123456789") != "" {
			return key
		}
		return key[:i]
	}
	alphabet := []string{"0", "9", "-", "/", "v", " ", "a", "é"[:1], ":"}
	var all func(prefix string, n int)
	all = func(prefix string, n int) {
		if got, want := nameStem(prefix), stem(prefix); got != want {
			t.Errorf("nameStem(%q) = %q, want %q", prefix, got, want)
		}
		if got, want := withoutVersion(prefix), version(prefix); got != want {
			t.Errorf("withoutVersion(%q) = %q, want %q", prefix, got, want)
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			all(prefix+c, n-1)
		}
	}
	all("", 5)
}
