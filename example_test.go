package ebb_test

import (
	"errors"
	"fmt"

	"github.com/ebbflow/ebb"
)

func ExampleResources() {
	machine, err := ebb.ParseResources("cpu=16,mem=64GiB,disk=1TiB")
	if err != nil {
		panic(err)
	}
	task := ebb.Resources{ebb.CPU: 4, ebb.Mem: 24 << 30}
	fmt.Println(task)
	fmt.Println("fits:", task.Fits(machine))
	fmt.Println("left:", machine.Sub(task.Scale(2)))
	fmt.Println("three fit:", task.Scale(3).Fits(machine))

	_, err = ebb.ParseResources("cpu=2,mem=-1G")
	fmt.Println(errors.Is(err, ebb.ErrInvalid), err)
	// Output:
	// 4 cpu, 24.0 GiB mem
	// fits: true
	// left: 8 cpu, 16.0 GiB mem, 1.0 TiB disk
	// three fit: false
	// true resource mem: quantity "-1G": must be finite and not negative: invalid
}

func ExampleRequirements() {
	align := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 4, ebb.Mem: 16 << 30}}
	shard := ebb.Requirements{Min: ebb.Resources{ebb.CPU: 1, ebb.Mem: 2 << 30}, Width: 8}

	// Eight shards can use up to 8 cpu and 16 GiB at once.
	fmt.Println("shard max:", shard.Max())
	// Aligning, then sharding: one step at a time.
	fmt.Println("serial:", align.Serial(shard))
	// Aligning beside the shards: both at once.
	fmt.Println("parallel:", align.Parallel(shard), "max", align.Parallel(shard).Max())
	// Output:
	// shard max: 8 cpu, 16.0 GiB mem
	// serial: 4 cpu, 16.0 GiB mem ×8
	// parallel: 4 cpu, 16.0 GiB mem ×9 max 36 cpu, 144.0 GiB mem
}
