#!/usr/bin/env bash
# make bench-scale: BenchmarkCompare's long cases (internal/bench/compare_test.go), the hub against
# the minimal hand-written pipeline as the work grows:
#   - 5MiB-10 and 1KiB-1000 on the shared RabbitMQ node (TEST_AMQP_URL);
#   - 1KiB-10000 (10,000 quorum queues for the hub, then 10,000 for the pipeline) on the private
#     node of scripts/scale.sh (scale@localhost, 127.0.0.1:5699), started here and removed after.
#     A node with a low open-file limit cannot hold 10,000 quorum queues: never the shared one.
#
# Environment: BENCH_SCALE_CASES (default "5MiB-10,1KiB-1000,1KiB-10000"), BENCH_OPEN_SECONDS,
# BENCH_SCALE (a factor on the submission counts), TEST_DATABASE_URL, TEST_AMQP_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
CASES=${BENCH_SCALE_CASES:-5MiB-10,1KiB-1000,1KiB-10000}
export CI=true GOTOOLCHAIN=${GOTOOLCHAIN:-local}

shared=() private=()
IFS=, read -ra all <<<"$CASES"
for c in "${all[@]}"; do
	case $c in
	*-10000) private+=("$c") ;;
	*) shared+=("$c") ;;
	esac
done

run() {
	BENCH_COMPARE=$1 "$GO" test -run '^$' -bench '^BenchmarkCompare$' -benchtime 1x -timeout 90m ./internal/bench/
}

status=0
if ((${#shared[@]})); then
	run "$(IFS=,; echo "${shared[*]}")" || status=1
fi
if ((${#private[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "bench-scale.sh: the 10,000-authority case needs the private node of scripts/scale.sh: run as root" >&2
		exit 2
	fi
	trap 'bash scripts/scale.sh stop' EXIT
	bash scripts/scale.sh start
	TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5699/ run "$(IFS=,; echo "${private[*]}")" || status=1
fi
exit "$status"
