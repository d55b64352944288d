// Package repositorytest checks implementations of [repository.Store] and
// [repository.Cache] against their contracts, and holds an in-memory
// implementation of each for tests that need a store or a cache but not a
// disk.
//
// [RunStore] and [RunCache] are conformance suites in the manner of
// testing/fstest.TestFS: a backend's own test calls them with a function
// that makes a fresh, empty store (or cache), and every breach of the
// contract fails a named subtest. The directory store and cache of package
// repository run them, and so do the in-memory ones here.
//
// [Store] and [Cache] are the in-memory implementations. They keep the
// whole contract, are safe for concurrent use, and hold everything in
// memory until they are dropped; [Store.Damage] changes a stored blob the
// way a failing disk would, so that a test can see its code notice.
//
// Words used here: a blob is the content stored under its sha256 digest;
// damage is stored bytes that no longer match the digest they are stored
// under; a staged file is one that GetFile wrote.
package repositorytest
