#!/usr/bin/env bash
# Runs zumero-bench against servers that keep their dbfiles in PostgreSQL, next to a
# SQLite-files server in the same run:
#
#   zumero-bench load --store URI --nodes 1,3 ...
#   zumero-bench sync --store URI ...
#
# It starts a private PostgreSQL cluster for the purpose (initdb in a new temporary
# directory, trust authentication, listening on 127.0.0.1 only, on a free port) and
# stops and deletes it at the end, also when a step fails or on Ctrl-C (a SIGTERM
# to this script alone waits for the running zumero-bench to finish). As root,
# PostgreSQL runs as the "postgres" system user, since it refuses to run as root.
# Debian's postgresql package is installed through scripts/install-deps.sh when no
# server is found.
#
# Usage: scripts/bench-postgresql.sh [COMMON...] [load LOAD_ARGS...] [sync SYNC_ARGS...]
#   COMMON     options given to both subcommands (e.g. --json, --dir DIR, --server PATH)
#   load ...   options for `zumero-bench load` only (e.g. --seconds 10 --clients 32)
#   sync ...   options for `zumero-bench sync` only (e.g. --rows 20000 --big-rows 0)
# With --json among COMMON, stdout is one object {"load": {...}, "sync": {...}}.
#
# Environment:
#   BUILD_DIR                where zumero-bench and zumero-server are (default: build)
#   ZUMERO_BENCH_PG_TMP      parent directory of the cluster (default: $TMPDIR or /tmp,
#                            the disk the benchmark's own scratch files use by default)
#   ZUMERO_BENCH_PG_OPTIONS  extra postgres settings, e.g. "-c synchronous_commit=off"
#   ZUMERO_BENCH_PG_KEEP=1   keep the cluster directory (for its log) after the run
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
bench="$build_dir/zumero-bench"
for program in "$bench" "$build_dir/zumero-server"; do
  if [ ! -x "$program" ]; then
    echo "bench-postgresql: $program is missing; build it first:" >&2
    echo "  cmake -S . -B $build_dir -DCMAKE_BUILD_TYPE=Release && cmake --build $build_dir -j2 --target zumero-bench zumero-server" >&2
    exit 2
  fi
done

# ---- the arguments: COMMON, then the "load" and "sync" sections -------------------
common=()
load_args=()
sync_args=()
section=common
json=0
for arg in "$@"; do
  case "$section:$arg" in
    *:load) section=load ;;
    *:sync) section=sync ;;
    common:*)
      common+=("$arg")
      if [ "$arg" = --json ]; then json=1; fi
      ;;
    load:*) load_args+=("$arg") ;;
    sync:*) sync_args+=("$arg") ;;
  esac
done

# ---- PostgreSQL's programs -----------------------------------------------------------
find_bindir() {
  local dir best=""
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then best=$dir; fi
  done
  if [ -z "$best" ] && command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir)
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then best=$dir; fi
  fi
  printf '%s' "$best"
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
  echo "bench-postgresql: no PostgreSQL server found; installing Debian's packages" >&2
  scripts/install-deps.sh
  bindir=$(find_bindir)
fi
if [ -z "$bindir" ]; then
  echo "bench-postgresql: PostgreSQL's initdb and postgres are still missing" >&2
  exit 1
fi

# As root the programs run as the postgres user; otherwise as ourselves.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# ---- the cluster ---------------------------------------------------------------------
parent=${ZUMERO_BENCH_PG_TMP:-${TMPDIR:-/tmp}}
cluster=$(mktemp -d "$parent/zumero-bench-pg-XXXXXX")
data="$cluster/data"
started=0

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$started" -eq 1 ]; then
    as_server_user "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      echo "bench-postgresql: PostgreSQL did not stop cleanly; see $cluster/postgres.log" >&2
  fi
  if [ "${ZUMERO_BENCH_PG_KEEP:-0}" = 1 ]; then
    echo "bench-postgresql: kept $cluster" >&2
  else
    rm -rf "$cluster"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" -eq 0 ]; then chown postgres: "$cluster"; fi
as_server_user "$bindir/initdb" -D "$data" --auth=trust -U postgres -E UTF8 --locale=C --no-sync \
  --no-instructions >"$cluster/initdb.log" 2>&1 || {
  cat "$cluster/initdb.log" >&2
  exit 1
}

# A port nobody listens on (bash's /dev/tcp connects when someone does); should another
# program take it before PostgreSQL does, the start fails and another port is tried.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=""
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 40000))
  port_is_free "$candidate" || continue
  # Enough connections for three nodes with a few dozen requests in flight each.
  # shellcheck disable=SC2086  # ZUMERO_BENCH_PG_OPTIONS is a list of words on purpose
  if as_server_user "$bindir/pg_ctl" -D "$data" -l "$cluster/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$candidate -c unix_socket_directories=$cluster -c max_connections=400 -c shared_buffers=128MB ${ZUMERO_BENCH_PG_OPTIONS:-}" \
    start >/dev/null; then
    port=$candidate
    started=1
    break
  fi
done
if [ -z "$port" ]; then
  echo "bench-postgresql: PostgreSQL did not start:" >&2
  tail -n 20 "$cluster/postgres.log" >&2 || true
  exit 1
fi
as_server_user "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE zumero" >/dev/null
store="postgresql://postgres@127.0.0.1:$port/zumero"
echo "bench-postgresql: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at 127.0.0.1:$port, data in $data" >&2

# ---- the benchmarks ------------------------------------------------------------------
echo "bench-postgresql: zumero-bench load --store $store --nodes 1,3 ${common[*]} ${load_args[*]}" >&2
load_out=$("$bench" load --store "$store" --nodes 1,3 "${common[@]}" "${load_args[@]}")
if [ "$json" -eq 0 ]; then printf '%s\n' "$load_out"; fi

echo "bench-postgresql: zumero-bench sync --store $store ${common[*]} ${sync_args[*]}" >&2
sync_out=$("$bench" sync --store "$store" "${common[@]}" "${sync_args[@]}")
if [ "$json" -eq 0 ]; then
  printf '%s\n' "$sync_out"
else
  printf '{"load": %s,\n "sync": %s}\n' "$load_out" "$sync_out"
fi
