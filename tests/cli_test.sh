#!/bin/bash
# The command-line client build/zumero against a real zumero-server on 127.0.0.1: every
# subcommand's output and exit status, --help, and usage errors.
#
#   tests/cli_test.sh ZUMERO_CLI ZUMERO_SERVER SQLITE3_SHELL ZUMERO_EXTENSION
#
# Client databases are prepared with the sqlite3 shell and the loadable extension.
set -u

cli=$1
server_bin=$2
sqlite=$3
extension=$4

dir=$(mktemp -d "${TMPDIR:-/tmp}/zumero-cli-test-XXXXXX")
server_pid=
failures=0

cleanup() {
  exec 3>&- 2>/dev/null
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -z "${ZUMERO_KEEP_TEST_DIRS:-}" ]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# run NAME COMMAND...: runs the command with stdout in $dir/NAME.out, stderr in
# $dir/NAME.err; its exit status in $status.
run() {
  local name=$1
  shift
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" </dev/null
  status=$?
}

expect_status() {  # NAME EXPECTED
  if [ "$status" != "$2" ]; then
    fail "$1: exit status $status, expected $2"
    sed 's/^/  stdout: /' "$dir/$1.out" >&2
    sed 's/^/  stderr: /' "$dir/$1.err" >&2
  fi
}

expect_in() {  # NAME out|err TEXT: the text appears in the output
  if ! grep -qF -- "$3" "$dir/$1.$2"; then
    fail "$1: '$3' not in std$2"
    sed "s/^/  std$2: /" "$dir/$1.$2" >&2
  fi
}

expect_not_in() {  # NAME out|err TEXT
  if grep -qF -- "$3" "$dir/$1.$2"; then
    fail "$1: '$3' in std$2"
    sed "s/^/  std$2: /" "$dir/$1.$2" >&2
  fi
}

expect_first_line() {  # NAME out|err PREFIX: the stream's first line starts with PREFIX
  local line
  line=$(head -n 1 "$dir/$1.$2")
  case "$line" in
    "$3"*) ;;
    *) fail "$1: std$2 starts with '$line', expected '$3...'" ;;
  esac
}

sql() {  # DB SQL...: runs SQL with the extension loaded
  local db=$1
  shift
  printf '.load %s\n%s\n' "$extension" "$*" | "$sqlite" -batch -bail "$db"
}

# ---- a server with an administrator, and small pull parts so large pulls are partial ----
mkfifo "$dir/server.stdin"
ZUMERO_STOP_ON_STDIN_EOF=1 ZUMERO_ADMIN_PASSWORD='admin secret' \
  "$server_bin" --data-dir "$dir/data" --listen 127.0.0.1:0 --pull-chunk-bytes 8192 \
  <"$dir/server.stdin" >"$dir/server.out" 2>"$dir/server.log" &
server_pid=$!
exec 3>"$dir/server.stdin"  # the server stops by itself if this script dies
url=
for _ in $(seq 1 200); do
  url=$(sed -n 's/^zumero-server listening on //p' "$dir/server.out")
  [ -n "$url" ] && break
  sleep 0.05
done
if [ -z "$url" ]; then
  echo "the server did not start" >&2
  cat "$dir/server.log" >&2
  exit 1
fi
printf 'admin secret\n' >"$dir/admin.pw"
admin=(--auth-dbfile zumero_users_admin --user admin --password-file "$dir/admin.pw")

# ---- --help and usage errors ----
run help "$cli" --help
expect_status help 0
for subcommand in sync status quarantine log query; do
  expect_in help out "$subcommand"
  run "help_$subcommand" "$cli" "$subcommand" --help
  expect_status "help_$subcommand" 0
  expect_in "help_$subcommand" out "Usage:"
done
expect_in help_sync out "--password-file"
expect_in help_sync out "never from the command line"
expect_in help_query out "never from the command line"
expect_in help_log out "never from the command line"
expect_in help_quarantine out "--restore"

run no_subcommand "$cli"
expect_status no_subcommand 2
run missing_argument "$cli" sync "$dir/a.db" "$url"
expect_status missing_argument 2
expect_in missing_argument err "DBFILE is required"
run password_option "$cli" sync "$dir/a.db" "$url" notes --user admin --password secret
expect_status password_option 2
run partial_credentials "$cli" sync "$dir/a.db" "$url" notes --user admin
expect_status partial_credentials 2
expect_in partial_credentials err "--password-file"
run bad_qid "$cli" quarantine "$dir/a.db" --restore one
expect_status bad_qid 2
run unknown_subcommand "$cli" frobnicate
expect_status unknown_subcommand 2
[ -e "$dir/a.db" ] && fail "a usage error created the database"

# ---- sync: a first push, plain lines when stdout is not a terminal ----
sql "$dir/a.db" "CREATE VIRTUAL TABLE notes USING zumero (title TEXT PRIMARY KEY, body TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 400)
INSERT INTO notes SELECT printf('note%04d', i), hex(randomblob(40)) FROM s;" || fail "preparing a.db"
run sync_a "$cli" sync "$dir/a.db" "$url" notes
expect_status sync_a 0
expect_in sync_a out "push: "
expect_in sync_a out "sync 1: partial 0, quarantine 0"
expect_not_in sync_a out $'\r'

# A fresh database pulls it in several parts: the client repeats until nothing is partial.
run sync_b "$cli" sync "$dir/b.db" "$url" notes
expect_status sync_b 0
expect_in sync_b out "sync 1: partial 1"
expect_in sync_b out "sync 2: "
expect_in sync_b out "apply: 400 rows"
[ "$(grep -c '^sync ' "$dir/sync_b.out")" -ge 2 ] || fail "sync_b: a single call"
tail -n 1 "$dir/sync_b.out" | grep -q "partial 0" || fail "sync_b: the last call was partial"
count=$("$sqlite" -batch "$dir/b.db" 'SELECT count(*) FROM z$notes')
[ "$count" = 400 ] || fail "b.db holds $count notes, expected 400"

# On a terminal the progress is a bar drawn in place.
run sync_tty script -qec "$cli sync $dir/b.db $url notes" /dev/null
expect_status sync_tty 0
expect_in sync_tty out "sync 1: partial 0"
sql "$dir/a.db" "UPDATE notes SET body = 'changed' WHERE title <= 'note0200';" || fail "changing a.db"
run sync_tty_push script -qec "$cli sync $dir/a.db $url notes" /dev/null
expect_status sync_tty_push 0
expect_in sync_tty_push out "push  ["
expect_in sync_tty_push out "#"
expect_in sync_tty_push out $'\r'
run quiet "$cli" sync --quiet "$dir/b.db" "$url" notes
expect_status quiet 0
expect_not_in quiet out "apply:"
expect_in quiet out "sync 1:"

# Errors: a zumero message on stderr, exit status 1.
run unreachable "$cli" sync "$dir/c.db" "http://127.0.0.1:1/" notes
expect_status unreachable 1
expect_first_line unreachable err "zumero:network_connection_failed"
run bad_url "$cli" sync "$dir/c.db" "ftp://example" notes
expect_status bad_url 1
expect_first_line bad_url err "zumero:invalid_argument"
printf 'wrong\n' >"$dir/wrong.pw"
run wrong_password "$cli" sync "$dir/c.db" "$url" notes --auth-dbfile zumero_users_admin --user admin \
  --password-file "$dir/wrong.pw"
expect_status wrong_password 1
expect_first_line wrong_password err "zumero:authentication_failed"
run missing_password_file "$cli" sync "$dir/c.db" "$url" notes --auth-dbfile zumero_users_admin --user admin \
  --password-file "$dir/no-such-file"
expect_status missing_password_file 2

# ---- status ----
sql "$dir/a.db" "INSERT INTO notes VALUES ('late1', 'x'), ('late2', 'y'); UPDATE notes SET body = 'z' WHERE title = 'late1';" ||
  fail "changing a.db"
run status_a "$cli" status "$dir/a.db"
expect_status status_a 0
expect_in status_a out "dbfile: notes"
expect_in status_a out "base version: "
expect_in status_a out "unsynced changes: 2 rows in 2 transactions, 0 schema changes"
expect_in status_a out "quarantined packages: 0"
expect_in status_a out "push in flight: no"
run status_b "$cli" status "$dir/b.db"
expect_status status_b 0
expect_in status_b out "unsynced changes: 0 rows"
run status_plain "$cli" status "$dir/plain.db"
expect_status status_plain 1
expect_first_line status_plain err "zumero:invalid_argument"
"$sqlite" "$dir/plain.db" 'CREATE TABLE t (x)'
run status_never "$cli" status "$dir/plain.db"
expect_status status_never 0
expect_in status_never out "dbfile: (never synced)"

# ---- quarantine ----
run quarantine_none "$cli" quarantine "$dir/a.db"
expect_status quarantine_none 0
expect_in quarantine_none out "no quarantined packages"
qid=$(sql "$dir/a.db" "SELECT zumero_quarantine_since_last_sync('main');")
[ "$qid" = 1 ] || fail "zumero_quarantine_since_last_sync gave '$qid'"
run quarantine_list "$cli" quarantine "$dir/a.db"
expect_status quarantine_list 0
expect_in quarantine_list out "qid | quarantined at"
expect_in quarantine_list out "notes"
grep -Eq '^1 +\| [0-9]{4}-[0-9]{2}-[0-9]{2} .* UTC \| notes +\| 2$' "$dir/quarantine_list.out" ||
  fail "quarantine_list: no line for package 1 with 2 rows: $(cat "$dir/quarantine_list.out")"
run status_quarantined "$cli" status "$dir/a.db"
expect_in status_quarantined out "quarantined packages: 1 (qid 1)"
expect_in status_quarantined out "unsynced changes: 0 rows"
run restore_missing "$cli" quarantine "$dir/a.db" --restore 99
expect_status restore_missing 1
expect_first_line restore_missing err "zumero:invalid_argument"
run restore "$cli" quarantine "$dir/a.db" --restore 1
expect_status restore 0
expect_in restore out "restored quarantined package 1"
run quarantine_after "$cli" quarantine "$dir/a.db"
expect_in quarantine_after out "no quarantined packages"
count=$("$sqlite" -batch "$dir/a.db" "SELECT count(*) FROM z\$notes WHERE title LIKE 'late%'")
[ "$count" = 2 ] || fail "the restore left $count late notes, expected 2"
run sync_restored "$cli" sync "$dir/a.db" "$url" notes
expect_status sync_restored 0

# ---- query ----
run query "$cli" query "$url" notes "SELECT title, length(body) AS size FROM notes WHERE title IN ('late1', 'note0001') ORDER BY title"
expect_status query 0
expect_in query out "title    | size"
expect_in query out "late1    | 1"
expect_in query out "note0001 | 7"
expect_in query out "(2 rows)"
run query_json "$cli" query "$url" notes "SELECT count(*) AS n FROM z\$notes" --json
expect_status query_json 0
expect_in query_json out '"columns":["n"]'
expect_in query_json out '"rows":[[402]]'
run query_capped "$cli" query "$url" notes "SELECT title FROM notes ORDER BY title" --max-rows 3
expect_status query_capped 0
expect_in query_capped out "(3 rows, truncated"
run query_write "$cli" query "$url" notes "DELETE FROM z\$notes"
expect_status query_write 1
expect_first_line query_write err "zumero:permission_denied"
run query_syntax "$cli" query "$url" notes "SELEKT 1"
expect_status query_syntax 1
expect_first_line query_syntax err "zumero:syntax_error"
run query_missing "$cli" query "$url" no_such_dbfile "SELECT 1"
expect_status query_missing 1
expect_first_line query_missing err "zumero:"

# ---- log: the summaries of guide 9.3 ----
run log_anonymous "$cli" log "$url"
expect_status log_anonymous 1
expect_first_line log_anonymous err "zumero:permission_denied"
run log "$cli" log "$url" "${admin[@]}"
expect_status log 0
expect_in log out "requests logged: "
expect_in log out "average elapsed time (ms) per url:"
expect_in log out "/push"
expect_in log out "/pull"
expect_in log out "SERVER_STARTUP"
expect_in log out "average push size: "
expect_in log out "bandwidth out (responses): "
expect_in log out "bandwidth in (requests): "
expect_in log out "refused (status 403):"
expect_in log out "push compression: "
# The anonymous pull of zumero_log above was refused: it is listed.
awk '/^refused/{found=1} found' "$dir/log.out" | grep -q "(none)" && fail "log: no refusal listed"
# The password from standard input, and the log kept in a file for later runs.
printf 'admin secret\n' | "$cli" log "$url" --auth-dbfile zumero_users_admin --user admin --password-file - \
  --db "$dir/log.db" >"$dir/log_stdin.out" 2>"$dir/log_stdin.err"
status=$?
expect_status log_stdin 0
expect_in log_stdin out "average push size: "
[ -s "$dir/log.db" ] || fail "log --db kept no file"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all cli checks passed"
