#!/usr/bin/env bash
# Fault scenarios (docs/reliability.md): the full profile of internal/chaos, R0–R10 with 2,000 appeals
# each (R10: 500) and N1 on a three-node RabbitMQ cluster. Every scenario starts its own RabbitMQ node and PostgreSQL instance (own node name, ports
# and data directories) under a private temporary directory, and never touches the shared services.
# The figures are printed and written to artifacts/chaos.md.
#
# Environment:
#   CHAOS_RUN     a -run pattern for the scenarios (default: all), e.g. 'TestScenarios/R1'
#   CHAOS_REPORT  where the table goes (default artifacts/chaos.md)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
REPORT=${CHAOS_REPORT:-artifacts/chaos.md}

if [[ $(id -u) -ne 0 ]]; then
	echo "chaos.sh: run as root (PostgreSQL's tools run as the postgres user; the broker node has its own cookie)" >&2
	exit 2
fi
if [[ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server || ! -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
	bash scripts/services.sh # installs RabbitMQ and PostgreSQL 15 from Debian's packages
fi

# Everything the run creates lives under RUN_DIR (TMPDIR for the test), so that an interrupted run
# leaves nothing behind: the trap kills what still runs from there, by pid, and removes it.
RUN_DIR=$(mktemp -d /tmp/appealhub-chaos-run.XXXXXX)
chmod 711 "$RUN_DIR" # the postgres user reaches its data directory inside
cleanup() {
	local pid
	for pid in $(grep -lsF "$RUN_DIR/" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$RUN_DIR"
}
trap cleanup EXIT

mkdir -p "$(dirname "$REPORT")"
printf '# Chaos run %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" >"$REPORT"
TMPDIR=$RUN_DIR APPEALHUB_CHAOS=full APPEALHUB_CHAOS_REPORT="$PWD/$REPORT" CI=true \
	"$GO" test -count=1 -v -timeout 90m -run "${CHAOS_RUN:-TestScenarios}" ./internal/chaos/
echo "chaos.sh: figures in $REPORT"
