// Package bench holds the hub's performance benchmarks, run by `make bench`:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./internal/bench/...
//
// Each benchmark starts a whole hub in-process (internal/hubtest) against the real PostgreSQL and
// RabbitMQ, on its own schema and broker prefix, drives it with concurrent portal clients over HTTP,
// and reports:
//
//   - BenchmarkIntake/{1KiB,64KiB}: submissions accepted per second (HTTP 202, durable in
//     PostgreSQL) and the p50/p99 accept latency, with delivery held back (the sandbox systems answer
//     slowly) so that intake and the relay have the machine to themselves;
//   - BenchmarkEndToEnd/{1KiB,64KiB}: appeals delivered per second from the first submission until
//     the last delivery is recorded delivered, the p50/p99 end-to-end latency of each delivery
//     (delivered_at − received_at, read back from the database), and the intake rate of that run.
//
// A run checks its own outcome (every submission accepted, every delivery delivered once, one
// document per delivery in the sandbox ledgers) and fails instead of reporting a figure when it is
// wrong. After the benchmarks, a summary table with the machine facts is printed to standard output.
// docs/performance.md explains the figures and records the ones measured.
//
// The helpers here (percentiles, CPU accounting, machine facts) are plain functions so that they
// can be tested; the benchmarks themselves live in the package's test files.
package bench
