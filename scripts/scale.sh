#!/usr/bin/env bash
# Scale measurement: for each queue type, start a PRIVATE RabbitMQ node
# (scale@localhost on 127.0.0.1:5699, its own data directory), run TestScale of internal/bench
# against it (10,000 authorities), then stop the node and remove its directory. It never touches
# the shared node (rabbit@localhost on 5672). Safe to re-run: a node left over from an interrupted
# run is stopped and its directory wiped first.
#
# Environment:
#   SCALE_QUEUE_TYPES   queue types to measure, in order (default "classic quorum")
#   SCALE_DIR           the private node's directory (default /tmp/appealhub-scale)
#   SCALE_AUTHORITIES, SCALE_SUBMISSIONS   passed to the test (defaults 10000 and 2000)
#   TEST_DATABASE_URL   PostgreSQL for the test (its own random schema)
# `scale.sh start` only starts the private node and `scale.sh stop` only stops and removes it.
set -euo pipefail

NODE=scale@localhost
PORT=5699
DIST_PORT=25699
DIR=${SCALE_DIR:-/tmp/appealhub-scale}
RMQ_BIN=/usr/lib/rabbitmq/bin
GO=${GO:-go}
QUEUE_TYPES=${SCALE_QUEUE_TYPES:-classic quorum}
# An Erlang crash dump (of the node or the CLI) goes next to the node's directory, not into the repository.
export ERL_CRASH_DUMP=$DIR.erl_crash.dump
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
	echo "scale.sh: run as root (the private node runs as root with its own Erlang cookie)" >&2
	exit 2
fi
if [[ ! -x $RMQ_BIN/rabbitmq-server ]]; then
	echo "scale.sh: RabbitMQ is not installed ($RMQ_BIN/rabbitmq-server); run make services" >&2
	exit 2
fi

# ctl runs rabbitmqctl (or another CLI tool) against the private node only.
ctl() {
	local tool=$1
	shift
	HOME=$DIR/home "$RMQ_BIN/$tool" -n "$NODE" "$@"
}

# node_pid prints the pid of the private node if it is running (checked against its command line,
# so that a reused pid of another process is never signalled).
node_pid() {
	[[ -f $DIR/pid ]] || return 1
	local pid
	pid=$(cat "$DIR/pid")
	# The node's command line names its HOME, $DIR/home.
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$DIR/home" || return 1
	echo "$pid"
}

stop_node() {
	local pid
	if pid=$(node_pid); then
		# An overloaded node may not answer: give `stop` two minutes, then signal it by its pid.
		timeout 120 env HOME="$DIR/home" "$RMQ_BIN/rabbitmqctl" -n "$NODE" -q stop >/dev/null 2>&1 || true
		for signal in TERM TERM TERM KILL; do
			kill -0 "$pid" 2>/dev/null || break
			kill -s "$signal" "$pid" 2>/dev/null || true
			sleep 10
		done
	fi
	rm -rf "$DIR"
}

start_node() {
	stop_node
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		echo "scale.sh: 127.0.0.1:$PORT is in use by a process this script does not know (no $DIR/pid);" \
			"stop it first (rabbitmqctl -n $NODE stop with its cookie)" >&2
		exit 1
	fi
	mkdir -p "$DIR/home" "$DIR/mnesia" "$DIR/log"
	if [[ -r /var/lib/rabbitmq/.erlang.cookie ]]; then
		cp /var/lib/rabbitmq/.erlang.cookie "$DIR/home/.erlang.cookie"
	else
		head -c 30 /dev/urandom | base64 | tr -dc '[:upper:]' >"$DIR/home/.erlang.cookie"
	fi
	chmod 400 "$DIR/home/.erlang.cookie"
	: >"$DIR/rabbitmq-env.conf"
	echo '[].' >"$DIR/enabled_plugins" # no management plugin
	cat >"$DIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$PORT
loopback_users.guest = true
channel_max = 2047
log.file.level = warning
CONF
	local nofile
	nofile=$(ulimit -Hn)
	if [[ $nofile == unlimited || $nofile -gt 65536 ]]; then nofile=65536; fi
	ulimit -n "$nofile"
	# RabbitMQ budgets file handles by the open-file limit, reserving about three per quorum queue
	# (segment, WAL and snapshot handles that are mostly not held open: 6,000 quorum queues showed
	# 18,015 reserved and 44 OS descriptors). Where the container refuses to raise the limit, raise
	# the budget instead (file_handles_high_watermark), so the measurement shows the queue type's
	# cost rather than this machine's limit; a production node raises `ulimit -n` instead.
	local budget=$((nofile > 65536 ? nofile : 65536))
	echo "[{rabbit, [{file_handles_high_watermark, $budget}]}]." >"$DIR/advanced.config"
	echo "scale.sh: starting $NODE on 127.0.0.1:$PORT (open files $nofile) in $DIR"
	env HOME="$DIR/home" RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$PORT" RABBITMQ_DIST_PORT="$DIST_PORT" \
		RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log" RABBITMQ_PID_FILE="$DIR/pid" \
		RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf" RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config" \
		ERL_EPMD_ADDRESS=127.0.0.1 "$RMQ_BIN/rabbitmq-server" -detached
	ctl rabbitmqctl -q wait --timeout 120 "$DIR/pid"
	ctl rabbitmqctl -q await_startup --timeout 120
}

case ${1:-} in
start) # leave a private node running (for exploring by hand); `scale.sh stop` removes it
	start_node
	exit 0
	;;
stop)
	stop_node
	exit 0
	;;
esac

trap stop_node EXIT

status=0
for qt in $QUEUE_TYPES; do
	start_node
	echo "scale.sh: measuring queue type $qt"
	APPEALHUB_SCALE=1 APPEALHUB_SCALE_QUEUE_TYPE="$qt" \
		APPEALHUB_SCALE_AMQP_URL="amqp://guest:guest@127.0.0.1:$PORT/" \
		APPEALHUB_SCALE_NODE="$NODE" APPEALHUB_SCALE_HOME="$DIR/home" \
		"$GO" test -tags scale -count=1 -run '^TestScale$' -v -timeout 30m ./internal/bench/ || status=1
	stop_node
done
exit "$status"
