// Package amqpsink publishes a run's events ([runner.EventBus]) to an AMQP
// 0-9-1 topic exchange, such as RabbitMQ's, in the shape HyperFlow's job
// executors use: routing keys like job.{id}.started and JSON bodies with
// a type, a timestamp and the executor's ID, so that tools written for
// HyperFlow's event stream (its metric collector, a dashboard bound with
// "job.#") read an ebb run as they read a HyperFlow one.
//
// A [Sink] subscribes to the bus and publishes from a goroutine of its
// own: the run never waits for the broker. A broker that falls behind
// makes the subscription drop events, which the stream then reports as an
// events.dropped message with the count.
//
// # Routing keys
//
// {id} is the task's name with the characters that mean something in a
// topic binding (".", "*", "#") and white space replaced by "_", cut to
// 200 bytes; the body's "job" field holds the name as it is.
//
//	executor.ready               the sink started: hostname
//	job.{id}.queued              ready, waiting for an alloc
//	job.{id}.started             put on an alloc: alloc_id, pool, try
//	job.{id}.stage-in.started    a try's inputs began to be placed (stamped when)
//	job.{id}.stage-in.finished   they were: bytes, time (seconds), files
//	job.{id}.execution.finished  a try ended: exit_status, time (seconds), error
//	job.{id}.stage-out.started   a try's outputs began to be stored
//	job.{id}.stage-out.finished  they were: bytes, time (seconds), files
//	job.{id}.finished            done for good: exit_status, metrics; or cached
//	job.{id}.retried             a try failed and the task is queued again
//	job.{id}.lost                its alloc was lost; queued again
//	job.{id}.timed_out           it ran past its timeout and was killed
//	stealer.{kind}               a decision of the run's stealer (requested, granted, ...)
//	events.dropped               the sink fell behind and lost dropped events
//
// A try that ran publishes, in HyperFlow's order, job.{id}.started,
// stage-in.started and .finished (when it had inputs),
// execution.finished, stage-out.started and .finished (when it stored
// outputs), then job.{id}.finished or job.{id}.retried. The stage
// messages come from the figures the pool measured (pool.Result's
// StageIn and StageOut: a worker measures its own and sends them back),
// published when the try has ended; their timestamps are the staging's
// own. Each file says where it came from or went: cache, peer, driver
// or repository. A pool that measures no staging makes none.
//
// Messages of one sink are published in the order of the bus, on one
// channel, so a queue bound to the exchange receives each job's messages
// in order. Each body carries seq, the sink's count of messages so far,
// from 1, to make gaps and order visible to a consumer.
package amqpsink
