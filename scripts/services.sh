#!/usr/bin/env bash
# services.sh — make PostgreSQL and RabbitMQ ready for Appeal Hub on this machine.
#
# Idempotent; meant for a fresh Debian 12 machine (run as root) as much as for one where both services
# already run. It installs the Debian packages when missing, starts each service when it is not
# answering on loopback, waits until it is ready (bounded), makes sure RabbitMQ's guest user works on
# loopback, and creates the PostgreSQL role appealhub (password appealhub, LOGIN CREATEDB) and the
# databases appealhub and appealhub_test owned by it. It never stops anything. When all is up it only
# checks, in well under two seconds, and needs no root.
#
# Called by `make services` (and so by `make run` and `make test`).
set -euo pipefail

readonly PG_HOST=127.0.0.1 PG_PORT=5432
readonly MQ_HOST=127.0.0.1 MQ_PORT=5672
readonly DB_ROLE=appealhub DB_PASSWORD=appealhub
readonly DATABASES=(appealhub appealhub_test)
readonly PG_WAIT=60 MQ_WAIT=90
readonly VERIFY_URL="postgres://${DB_ROLE}:${DB_PASSWORD}@${PG_HOST}:${PG_PORT}/appealhub_test?sslmode=disable&connect_timeout=5"

export DEBIAN_FRONTEND=noninteractive
export PGCONNECT_TIMEOUT=5

say() { printf '%s\n' "$*"; }
die() {
	printf 'services: error: %s\n' "$*" >&2
	exit 1
}
is_root() { [[ "$(id -u)" -eq 0 ]]; }
need_root() { is_root || die "$1 needs root: run 'sudo make services' (or as root)"; }

# port_open HOST PORT: a TCP connection succeeds.
port_open() { timeout 2 bash -c ": </dev/tcp/$1/$2" 2>/dev/null; }

pg_up() {
	if command -v pg_isready >/dev/null; then
		pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
	else
		port_open "$PG_HOST" "$PG_PORT"
	fi
}
mq_up() { port_open "$MQ_HOST" "$MQ_PORT"; }

pg_installed() { command -v pg_ctlcluster >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }
mq_installed() { command -v rabbitmq-server >/dev/null; }
# raise_nofile makes the broker start with its open-file limit at the hard limit (at most 65,536):
# rabbitmq-server runs the node through `su rabbitmq`, which resets the limits, so the line goes
# into rabbitmq-env.conf, which the node's start script sources as the rabbitmq user.
raise_nofile() {
	grep -qs 'appealhub: open files' /etc/rabbitmq/rabbitmq-env.conf && return
	mkdir -p /etc/rabbitmq
	# shellcheck disable=SC2016 # expanded when the broker's script sources the file
	echo 'n=$(ulimit -Hn); [ "$n" = unlimited ] || [ "$n" -gt 65536 ] && n=65536; ulimit -n "$n" 2>/dev/null # appealhub: open files' \
		>>/etc/rabbitmq/rabbitmq-env.conf
}

# warn_low_nofile tells when the running broker was started with a low open-file limit (it then
# refuses connections near a thousand quorum queues) and sees to it that its next start raises it.
warn_low_nofile() {
	local pid limit
	pid=$(ss -Hltnp "sport = :$MQ_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1) || true
	pid=${pid#pid=}
	[[ -n $pid && -r /proc/$pid/limits ]] || return 0
	limit=$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")
	if [[ $limit =~ ^[0-9]+$ ]] && ((limit < 4096)); then
		say "rabbitmq: WARNING: the running node may open only $limit files; a thousand authorities need more."
		say "rabbitmq: restart it to raise the limit: rabbitmqctl stop && make services"
		if is_root; then raise_nofile; fi
	fi
}

# wait_for SECONDS WHAT CHECK...: polls CHECK every half second until it succeeds or time runs out.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit))
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
	say "$what: ready after $((limit - (deadline - SECONDS)))s"
}

# 1. Packages: install only what is missing, with one apt-get update.
install_packages() {
	local missing=()
	pg_up || pg_installed || missing+=(postgresql)
	mq_up || mq_installed || missing+=(rabbitmq-server)
	command -v xmllint >/dev/null || missing+=(libxml2-utils) # XSD checks in the sev1207 tests
	if ((${#missing[@]} == 0)); then
		say "packages: present"
		return
	fi
	need_root "installing ${missing[*]}"
	say "packages: installing ${missing[*]} (apt-get)"
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
	say "packages: installed ${missing[*]}"
}

# 2. PostgreSQL: start the newest cluster (creating it if there is none) and wait for it.
start_postgresql() {
	if pg_up; then
		say "postgresql: running"
		return
	fi
	need_root "starting PostgreSQL"
	local ver
	ver=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -printf '%h\n' 2>/dev/null | xargs -r -n1 basename | sort -V | tail -n1)
	if [[ -z "$ver" ]]; then
		ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
		[[ -n "$ver" ]] || die "no PostgreSQL server under /usr/lib/postgresql"
		say "postgresql: creating cluster $ver/main"
		pg_createcluster "$ver" main >/dev/null
	fi
	say "postgresql: starting cluster $ver/main"
	# "already running" (say, without TCP yet) is not an error here; the wait below decides.
	pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
	wait_for "$PG_WAIT" postgresql pg_up ||
		die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT after ${PG_WAIT}s; see /var/log/postgresql/postgresql-$ver-main.log"
}

# 3. RabbitMQ: start it detached when it does not answer, wait, and check the guest user.
start_rabbitmq() {
	if mq_up; then
		say "rabbitmq: running"
		warn_low_nofile
	else
		need_root "starting RabbitMQ"
		# The node is named rabbit@<host name>; a host name that does not resolve keeps it from starting.
		# Then name it rabbit@localhost in rabbitmq-env.conf, which the server and every CLI tool read.
		if ! grep -qs '^ *NODENAME=' /etc/rabbitmq/rabbitmq-env.conf && ! getent hosts "$(hostname)" >/dev/null; then
			say "rabbitmq: host name $(hostname) does not resolve: naming the node rabbit@localhost"
			mkdir -p /etc/rabbitmq
			echo 'NODENAME=rabbit@localhost' >>/etc/rabbitmq/rabbitmq-env.conf
		fi
		say "rabbitmq: starting"
		# Every quorum queue keeps files open: the usual soft limit of 1,024 descriptors runs out
		# near a thousand authorities, and the node then stops accepting connections.
		raise_nofile
		rabbitmq-server -detached
		wait_for "$MQ_WAIT" rabbitmq mq_up ||
			die "RabbitMQ is not accepting connections on $MQ_HOST:$MQ_PORT after ${MQ_WAIT}s; see /var/log/rabbitmq/"
	fi
	if ! is_root || ! command -v rabbitmqctl >/dev/null; then
		say "rabbitmq: guest user not checked (needs root and rabbitmqctl)"
		return
	fi
	local rc=0
	rabbitmqctl -q authenticate_user guest guest >/dev/null 2>&1 || rc=$?
	case $rc in
	0)
		say "rabbitmq: guest user ok"
		return
		;;
	65) ;; # invalid credentials or no such user: restore it below
	*)
		say "rabbitmq: guest user not checked (rabbitmqctl cannot reach the node: exit $rc)"
		return
		;;
	esac
	say "rabbitmq: restoring the guest user"
	rabbitmqctl -q add_user guest guest >/dev/null 2>&1 || rabbitmqctl -q change_password guest guest >/dev/null
	rabbitmqctl -q set_user_tags guest administrator >/dev/null
	rabbitmqctl -q set_permissions -p / guest '.*' '.*' '.*' >/dev/null
	rabbitmqctl -q authenticate_user guest guest >/dev/null || die "RabbitMQ refuses guest/guest"
	say "rabbitmq: guest user ok"
}

# as_appealhub DB SQL: runs SQL as the appealhub role over TCP, printing unaligned rows.
as_appealhub() {
	psql -X -A -t -q -v ON_ERROR_STOP=1 \
		"postgres://${DB_ROLE}:${DB_PASSWORD}@${PG_HOST}:${PG_PORT}/$1?sslmode=disable&connect_timeout=5" -c "$2"
}

# as_postgres: runs psql as the postgres superuser through the local socket (Debian's peer auth).
as_postgres() {
	if is_root && id postgres >/dev/null 2>&1; then
		runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
	else
		psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"
	fi
}

# 4. The role and the databases.
prepare_database() {
	local want=${#DATABASES[@]} dbs
	dbs=$(printf "'%s'," "${DATABASES[@]}")
	dbs=${dbs%,}
	local check="SELECT r.rolcanlogin AND r.rolcreatedb, (SELECT count(*) FROM pg_database d WHERE d.datname IN ($dbs) AND d.datdba = r.oid) FROM pg_roles r WHERE r.rolname = current_user"
	if [[ "$(as_appealhub appealhub_test "$check" 2>/dev/null)" == "t|$want" ]]; then
		say "database: role $DB_ROLE and databases ${DATABASES[*]} present"
		return
	fi
	say "database: creating role $DB_ROLE and databases ${DATABASES[*]}"
	{
		cat <<-SQL
			DO \$\$
			BEGIN
			  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_ROLE') THEN
			    CREATE ROLE $DB_ROLE LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
			  ELSE
			    ALTER ROLE $DB_ROLE LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
			  END IF;
			END
			\$\$;
		SQL
		for db in "${DATABASES[@]}"; do
			printf "SELECT 'CREATE DATABASE %s OWNER %s' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '%s')\\\\gexec\n" "$db" "$DB_ROLE" "$db"
			printf 'ALTER DATABASE %s OWNER TO %s;\n' "$db" "$DB_ROLE"
		done
	} | as_postgres -f - >/dev/null || die "could not create the role and databases (as the postgres superuser)"
	say "database: role $DB_ROLE and databases ${DATABASES[*]} ready"
}

# 5. The check the tests depend on.
verify() {
	[[ "$(psql -X -A -t -q "$VERIFY_URL" -c 'select 1' 2>&1)" == 1 ]] ||
		die "cannot connect as $DB_ROLE: psql 'postgres://${DB_ROLE}:***@${PG_HOST}:${PG_PORT}/appealhub_test' -c 'select 1' fails"
	say "database: $DB_ROLE@$PG_HOST:$PG_PORT/appealhub_test answers"
}

install_packages
start_postgresql
start_rabbitmq
if port_open "$MQ_HOST" 15672; then say "rabbitmq: management API up"; elif is_root && rabbitmq-plugins -q enable rabbitmq_management >/dev/null; then say "rabbitmq: management plugin enabled"; else say "rabbitmq: management API not available on $MQ_HOST:15672 (enable it as root: rabbitmq-plugins enable rabbitmq_management)"; fi
prepare_database
verify
