// Package cluster defines a Cluster: a pool that can also be asked for an
// alloc of given requirements, and may grow (launch workers) to grant it.
//
//	Static   a pass-through Cluster over a fixed Pool: Allocate waits for
//	         capacity to free up in that pool.
//
// A runner takes its primary alloc from a Cluster, and its stealers take
// auxiliary allocs from one.
package cluster
