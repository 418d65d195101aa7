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
//     (delivered_at − received_at, read back from the database), and the intake rate of that run;
//   - BenchmarkCompare/<size>-<authorities>/{hub,baseline}: the hub end to end over HTTPS with
//     signatures required, against a minimal hand-written pipeline doing the same durable steps with
//     the same libraries (baseline_test.go): appeals/s and p50/p99 end to end in a closed loop, then
//     p99 in an open loop at half the hub's peak, and the ratio hub/baseline. BENCH_FULL=1 (make
//     bench-scale) adds 5 MiB bodies and 1,000 and 10,000 authorities;
//   - BenchmarkSoak (build tag soak, make soak): the hub as an OS process at a steady rate for
//     SOAK_DURATION, its resident memory and goroutines sampled.
//
// A run checks its own outcome (every submission accepted, every delivery delivered once, one
// document per delivery in the sandbox ledgers) and fails instead of reporting a figure when it is
// wrong. After the benchmarks, a summary table with the machine facts is printed to standard output.
// docs/performance.md explains the figures and records the ones measured.
//
// The helpers here (percentiles, CPU accounting, machine facts) are plain functions so that they
// can be tested; the benchmarks themselves live in the package's test files.
package bench
