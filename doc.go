// Package ebb holds the vocabulary of elastic cluster allocation: the
// resources a task needs ([Resources], [Requirements]), the labels that
// travel with an allocation ([Labels]), content digests ([Digester]), and the
// error kinds every ebb package reports ([ErrInvalid], [ErrUnavailable], ...).
//
// A run of ebb holds one primary alloc for its whole life. When ready work
// exceeds what the run holds, stealers acquire auxiliary allocs from a
// cluster and give them back once they are idle. The packages below this one
// build that machinery:
//
//	pool        Pool, Offer, Alloc, Exec: leased reservations that run execs
//	pool/local  the embedded default pool: this machine, execs as processes
//	repository  content-addressed blobs and the task-result cache
//
// This package imports nothing of ebb's, so every other package can share its
// words. Every method on [Resources] and [Requirements] returns a fresh value;
// none aliases its receiver or its arguments.
package ebb
