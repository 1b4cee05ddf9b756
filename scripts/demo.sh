#!/usr/bin/env bash
# Shows zumero end to end: two client databases change offline and converge
# through a local zumero-server.
#
#   bash scripts/demo.sh [--data-dir DIR] [--port PORT] [--skip-deps]
#
# Steps: install missing Debian packages (apt-get, needs root or sudo), build in
# build/ (Release), start build/zumero-server on 127.0.0.1, run the SQL scripts in
# examples/two_clients_*.sql through the sqlite3 shell against two client
# databases, compare the two, stop the server.
#
# The server keeps its data in ./zumero-data unless --data-dir says otherwise.
# It listens on port 8080 if that is free, otherwise on any free port.
# The client databases go to build/demo/ and are recreated on every run.
set -euo pipefail

start_dir="$PWD"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

data_dir="$repo_root/zumero-data"
port=""
skip_deps=0

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data_dir="${2:?--data-dir needs a directory}"; shift 2 ;;
    --port) port="${2:?--port needs a number}"; shift 2 ;;
    --skip-deps) skip_deps=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
# A relative --data-dir is taken from the directory the script was started in.
case "$data_dir" in
  /*) ;;
  *) data_dir="$start_dir/$data_dir" ;;
esac
cd "$repo_root"

build_dir="$repo_root/build"
client_dir="$build_dir/demo"
client_a="$client_dir/client_a.db"
client_b="$client_dir/client_b.db"
server_log="$client_dir/zumero-server.log"
# A new dbfile name on every run, so a data directory kept from an earlier run
# does not already hold this demo's table.
dbfile="groceries_$(date +%Y%m%d_%H%M%S)"

step=0
heading() {
  step=$((step + 1))
  printf '\n=== %d. %s ===\n' "$step" "$*"
}
note() { printf '    %s\n' "$*"; }
die() { printf '\ndemo.sh: %s\n' "$*" >&2; exit 1; }

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  if ! port_in_use 8080; then
    echo 8080
    return
  fi
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Runs one SQL file from examples/ against a client database through the stock
# sqlite3 shell, with the extension loaded and @server / @dbfile set.
run_sql() {
  local db="$1" sql_file="$2"
  sqlite3 -bail -batch \
    -cmd ".load '$build_dir/zumero'" \
    -cmd ".parameter set @server \"'$server_url'\"" \
    -cmd ".parameter set @dbfile \"'$dbfile'\"" \
    "$db" < "$repo_root/examples/$sql_file"
}

client() {
  local name="$1" db="$2" sql_file="$3"
  printf -- '--- client %s: examples/%s\n' "$name" "$sql_file"
  if ! run_sql "$db" "$sql_file"; then
    if [ -s "$server_log" ]; then
      printf '\n--- last lines of the server log (%s)\n' "$server_log" >&2
      tail -n 20 "$server_log" >&2
    fi
    die "client $name failed while running examples/$sql_file"
  fi
}

server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    printf '\nzumero-server (pid %s) stopped.\n' "$server_pid"
  fi
  server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
heading "Installing missing Debian packages (scripts/install-deps.sh)"
if [ "$skip_deps" -eq 1 ]; then
  note "skipped (--skip-deps)"
else
  bash scripts/install-deps.sh < /dev/null
  note "dependencies are in place"
fi

# ---------------------------------------------------------------------------
heading "Building zumero in build/ (Release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release --log-level=WARNING \
  || die "cmake could not configure the build (see above)"
# Build only what the demo needs when the server target is known by name;
# otherwise build everything.
known_targets="$(cmake --build "$build_dir" --target help 2>/dev/null || true)"
if grep -qw 'zumero-server' <<< "$known_targets"; then
  cmake --build "$build_dir" -j2 --target zumero_ext zumero-server || die "the build failed (see above)"
else
  cmake --build "$build_dir" -j2 || die "the build failed (see above)"
fi
[ -f "$build_dir/zumero.so" ] || die "build/zumero.so was not built"
[ -x "$build_dir/zumero-server" ] || die "build/zumero-server was not built"
note "extension: build/zumero.so"
note "server:    build/zumero-server"

# ---------------------------------------------------------------------------
heading "Starting zumero-server"
if [ -z "$port" ]; then
  port="$(pick_port)"
elif port_in_use "$port"; then
  die "port $port is already in use"
fi
server_url="http://127.0.0.1:$port/"
mkdir -p "$data_dir"
rm -rf "$client_dir"
mkdir -p "$client_dir"
note "build/zumero-server --data-dir $data_dir --listen 127.0.0.1:$port"
"$build_dir/zumero-server" --data-dir "$data_dir" --listen "127.0.0.1:$port" \
  > "$server_log" 2>&1 < /dev/null &
server_pid=$!

# Wait up to 20 seconds for GET /health to answer 200.
ready=0
for _ in $(seq 1 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$server_log" >&2 || true
    server_pid=""
    die "zumero-server exited during startup (log above)"
  fi
  if curl -fsS -o /dev/null --max-time 1 "${server_url}health" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
[ "$ready" -eq 1 ] || { cat "$server_log" >&2 || true; die "zumero-server did not answer ${server_url}health"; }
note "server is up: ${server_url} (pid $server_pid, log build/demo/zumero-server.log)"
note "data directory: $data_dir"
note "dbfile on the server for this run: $dbfile"

# ---------------------------------------------------------------------------
heading "Client A creates a table, adds rows and syncs"
note "A sync result reads partial;quarantine;bytes_up;bytes_down;bytes_up_compressed;"
note "bytes_down_compressed;ms_network;ms_total (partial 0 = up to date)."
client A "$client_a" two_clients_1_a_create.sql

# ---------------------------------------------------------------------------
heading "Client B starts empty and syncs: it receives A's table and rows"
client B "$client_b" two_clients_2_b_join.sql

# ---------------------------------------------------------------------------
heading "Offline: A and B change different rows without syncing"
client A "$client_a" two_clients_3_a_offline.sql
client B "$client_b" two_clients_4_b_offline.sql

# ---------------------------------------------------------------------------
heading "Both clients sync twice (A, B, A, B)"
for round in 1 2; do
  note "round $round"
  client A "$client_a" two_clients_sync.sql
  client B "$client_b" two_clients_sync.sql
done

# ---------------------------------------------------------------------------
heading "Client A and client B side by side"
{ echo "client A"; run_sql "$client_a" two_clients_show.sql; } > "$client_dir/a.txt" \
  || die "could not read client A"
{ echo "client B"; run_sql "$client_b" two_clients_show.sql; } > "$client_dir/b.txt" \
  || die "could not read client B"
# Two columns: client A on the left, client B on the right.
awk 'FNR == NR { left[FNR] = $0; if (length($0) > width) width = length($0); rows_left = FNR; next }
     { right[FNR] = $0; rows_right = FNR }
     END { rows = rows_left > rows_right ? rows_left : rows_right
           for (i = 1; i <= rows; i++) printf "%-*s    %s\n", width, left[i], right[i] }' \
  "$client_dir/a.txt" "$client_dir/b.txt"

# Compare everything but the title line.
if cmp -s <(tail -n +2 "$client_dir/a.txt") <(tail -n +2 "$client_dir/b.txt"); then
  printf '\nThe two clients match: both hold the same rows after syncing.\n'
  result=0
else
  printf '\nThe two clients differ:\n'
  diff <(tail -n +2 "$client_dir/a.txt") <(tail -n +2 "$client_dir/b.txt") || true
  result=1
fi

# ---------------------------------------------------------------------------
heading "Stopping zumero-server"
stop_server
exit "$result"
