package ebb

import (
	"context"
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
		{Task{Name: "chr1.split_2", Argv: []string{"split"}}, "split:chr1.split"},
		{Task{Name: "merge", Argv: []string{"sh", "-c", "cat *"}}, "sh:merge"},
		{Task{Name: "42", Argv: []string{"x"}}, "x:42"},
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
