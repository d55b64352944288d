package ebb

// A Demand is ready work that nothing held can place: Count tasks that
// each need Resources. An evaluation reports its demand as a snapshot,
// largest shapes first, and stealers turn it into auxiliary allocs.
type Demand struct {
	Resources Resources `json:"resources"`
	Count     int       `json:"count"`
}

// Total returns what the demand needs in all: Resources × Count.
func (d Demand) Total() Resources { return d.Resources.Scale(float64(d.Count)) }
