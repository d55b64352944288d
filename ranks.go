package ebb

// UpwardRanks returns, for each task of a graph, its upward rank: the
// longest path from the task to a sink (a task nothing waits for),
// counting the weight of every task on it, its own included. order lists
// every task after the tasks it depends on (a topological order, as
// Graph.Order); dependents(i) lists the tasks that wait for i. A task of
// high rank starts a long chain, so starting it first shortens the run:
// the runner and the simulator take ready tasks in decreasing rank.
//
// With weights from estimated durations, the rank is the estimated time
// from the task's start to the end of the flow; with every weight 1 (no
// estimates yet), it counts the tasks on that path. The runner and the
// simulator compute the ranks again each time a kind's first duration is
// learned, and reorder the ready tasks by them.
func UpwardRanks(order []int32, dependents func(i int32) []int32, weight func(i int32) float64) []float64 {
	rank := make([]float64, len(order))
	for k := len(order) - 1; k >= 0; k-- {
		i := order[k]
		longest := 0.0
		for _, d := range dependents(i) {
			longest = max(longest, rank[d])
		}
		rank[i] = weight(i) + longest
	}
	return rank
}
