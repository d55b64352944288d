package ebb

import "hash/maphash"

// A nameIndex finds a flow's tasks by name: an open-addressing hash
// table of task indexes, with linear probing, at most half full. Each
// slot holds a task's index plus one and the high half of its name's
// hash, so that a probe reads a task's name only when the hashes
// agree, and the table holds no pointer for the garbage collector to
// follow: 16 bytes a task at most, where a map[string]int took about
// 54 and was scanned at every collection.
//
// It is read-only once built and then safe for concurrent use.
type nameIndex struct {
	seed  maphash.Seed
	slots []uint64 // 0 empty; else hash>>32<<32 | index+1
	mask  uint64
}

// newNameIndex returns an empty index sized for n tasks.
func newNameIndex(n int) nameIndex {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return nameIndex{seed: maphash.MakeSeed(), slots: make([]uint64, size), mask: uint64(size - 1)}
}

// add records that tasks[i] is named name, unless a task of that name
// is recorded already: then it returns that task's index and false.
func (x *nameIndex) add(tasks []Task, name string, i int) (int, bool) {
	h := maphash.String(x.seed, name)
	tag := h &^ (1<<32 - 1)
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		s := x.slots[p]
		if s == 0 {
			x.slots[p] = tag | uint64(i+1)
			return i, true
		}
		if s&^(1<<32-1) == tag {
			if j := int(uint32(s)) - 1; tasks[j].Name == name {
				return j, false
			}
		}
	}
}

// find returns the index in tasks of the task named name.
func (x *nameIndex) find(tasks []Task, name string) (int, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	h := maphash.String(x.seed, name)
	tag := h &^ (1<<32 - 1)
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		s := x.slots[p]
		if s == 0 {
			return 0, false
		}
		if s&^(1<<32-1) == tag {
			if j := int(uint32(s)) - 1; tasks[j].Name == name {
				return j, true
			}
		}
	}
}
