#!/bin/sh
# The guide's own security scripts through the stock sqlite3 shell against a real
# zumero-server: 7.4 (securing a newly installed server) on a server started without
# an admin password, 7.5 (free private wikis) on one started with the admin password
# the script uses. Each script runs with the server's URL in place of https://server;
# then the checks below try, as the guide's people, exactly what the guide says they
# may and may not do.
#
# Usage: guide_security_test.sh <sqlite3 shell> <zumero-server> <extension file> <scripts dir>
# ZUMERO_SHELL_PRELOAD, when set, is preloaded into the shell (a sanitized extension
# in an unsanitized shell needs its runtimes).
set -u
shell=$1
server=$2
extension=$3
scripts=$4

work=$(mktemp -d "${TMPDIR:-/tmp}/zumero-guide-security.XXXXXX")
server_pids=""
cleanup() {
  for pid in $server_pids; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

passed=0
failed=0
pass() {
  passed=$((passed + 1))
  echo "ok: $1"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL: $1"
}

# start_server NAME [ARGS...]: a server with data in $work/NAME/data; sets url and data.
start_server() {
  name=$1
  shift
  mkdir -p "$work/$name"
  data="$work/$name/data"
  "$server" --data-dir "$data" --listen 127.0.0.1:0 "$@" >"$work/$name/stdout" 2>"$work/$name/stderr" &
  pid=$!
  server_pids="$server_pids $pid"
  line=""
  tries=0
  while [ -z "$line" ]; do
    line=$(grep -m1 '^zumero-server listening on ' "$work/$name/stdout" 2>/dev/null || true)
    [ -n "$line" ] && break
    if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -ge 400 ]; then
      echo "FAIL: zumero-server $name did not start" >&2
      cat "$work/$name/stderr" >&2
      exit 1
    fi
    tries=$((tries + 1))
    sleep 0.05
  done
  url=${line#zumero-server listening on }
}

run_shell() {
  if [ -n "${ZUMERO_SHELL_PRELOAD:-}" ]; then
    LD_PRELOAD=$ZUMERO_SHELL_PRELOAD ASAN_OPTIONS=detect_leaks=0 "$shell" "$@"
  else
    "$shell" "$@"
  fi
}

# guide_script FILE: the script with the server's URL and the built extension.
guide_script() {
  sed -e "s#https://server#$url#g" -e "s#zumero\\.dll#$extension#g" "$scripts/$1"
}

# run_script WHAT DB FILE: runs a guide script (after .load) in DB; it must succeed.
run_script() {
  { printf '.load %s\n' "$extension"; guide_script "$3"; } >"$work/input.sql"
  run_shell -batch "$2" <"$work/input.sql" >"$work/out" 2>"$work/err"
  status=$?
  if [ "$status" -eq 0 ] && [ ! -s "$work/err" ]; then
    pass "$1"
  else
    fail "$1 (exit $status): $(cat "$work/err")"
  fi
}

# run_sql DB STATEMENTS: runs statements in DB with the extension loaded.
run_sql() {
  db=$1
  shift
  { printf '.load %s\n' "$extension"; printf '%s\n' "$@"; } >"$work/input.sql"
  run_shell -batch "$db" <"$work/input.sql" >"$work/out" 2>"$work/err"
}

expect_ok() {
  what=$1
  shift
  run_sql "$@"
  if [ -s "$work/err" ]; then fail "$what: $(cat "$work/err")"; else pass "$what"; fi
}

# expect_error WHAT ERROR DB STATEMENTS
expect_error() {
  what=$1
  error=$2
  shift 2
  run_sql "$@"
  if grep -q "$error" "$work/err"; then pass "$what"; else fail "$what: expected $error, got: $(cat "$work/err")"; fi
}

# expect_output WHAT EXPECTED DB STATEMENTS: the last line printed must be EXPECTED.
expect_output() {
  what=$1
  expected=$2
  shift 2
  run_sql "$@"
  got=$(tail -n 1 "$work/out")
  if [ ! -s "$work/err" ] && [ "$got" = "$expected" ]; then
    pass "$what"
  else
    fail "$what: expected '$expected', got '$got' $(cat "$work/err")"
  fi
}

expect_file() {
  if [ -f "$2" ]; then pass "$1"; else fail "$1: $2 does not exist"; fi
}
expect_no_file() {
  if [ ! -f "$2" ]; then pass "$1"; else fail "$1: $2 exists"; fi
}

internal() { printf "zumero_internal_auth_scheme('%s')" "$1"; }
# sync_as DBFILE AUTH_DBFILE USER PASSWORD
sync_as() { printf "SELECT zumero_sync('main', '%s', '%s', %s, '%s', '%s');" "$url" "$1" "$(internal "$2")" "$3" "$4"; }
sync_anonymous() { printf "SELECT zumero_sync('main', '%s', '%s');" "$url" "$1"; }
new_table="CREATE VIRTUAL TABLE notes USING zumero (note TEXT); INSERT INTO notes VALUES ('hello');"
denied=zumero:permission_denied

# ---- 7.4: securing a newly installed server ------------------------------------------

start_server install
guide_script install_7_4.sql >"$work/install/my_install.sql"
# As the guide runs it: sqlite3 :memory: -init my_install.sql
(cd "$work/install" && run_shell :memory: -init my_install.sql </dev/null >"$work/out" 2>"$work/err")
if [ -s "$work/err" ]; then fail "7.4 install script: $(cat "$work/err")"; else pass "7.4 install script"; fi
expect_file "7.4 created zumero_users_admin" "$data/zumero_users_admin.db"
expect_file "7.4 created zumero_config" "$data/zumero_config.db"

admin_pw="you shall not pass"
i=0
next_db() {
  i=$((i + 1))
  db="$work/install/db$i.db"
}
next_db
expect_ok "7.4: an admin creates a dbfile" "$db" "$new_table" "$(sync_as admin_made zumero_users_admin admin "$admin_pw")"
expect_file "7.4: the admin's dbfile exists" "$data/admin_made.db"
next_db
expect_error "7.4: anonymous may not create a dbfile" $denied "$db" "$new_table" "$(sync_anonymous anonymous_made)"
expect_no_file "7.4: anonymous's dbfile does not exist" "$data/anonymous_made.db"
next_db
expect_error "7.4: a wrong admin password is refused" zumero:authentication_failed "$db" "$new_table" \
  "$(sync_as wrong_made zumero_users_admin admin "my admin password")"
expect_ok "7.4: an admin creates an auth dbfile with a user" "$work/install/scratch.db" \
  "SELECT zumero_internal_auth_create('$url', 'staff', $(internal zumero_users_admin), 'admin', '$admin_pw', 'sam', 'sam-pw', NULL, NULL, NULL, NULL);"
next_db
expect_error "7.4: a user who is not an admin may not create a dbfile" $denied "$db" "$new_table" \
  "$(sync_as sam_made staff sam sam-pw)"
expect_no_file "7.4: the non-admin's dbfile does not exist" "$data/sam_made.db"
expect_error "7.4: anonymous may not create an auth dbfile" $denied "$work/install/scratch.db" \
  "SELECT zumero_internal_auth_create('$url', 'sneaky', NULL, NULL, NULL, 'x', 'y', NULL, NULL, NULL, NULL);"
next_db
expect_error "7.4: anonymous may not pull zumero_config" $denied "$db" "$(sync_anonymous zumero_config)"
next_db
expect_error "7.4: a non-admin may not pull zumero_config" $denied "$db" "$(sync_as zumero_config staff sam sam-pw)"
next_db
config_copy=$db
expect_ok "7.4: an admin pulls zumero_config" "$config_copy" "$(sync_as zumero_config zumero_users_admin admin "$admin_pw")"
expect_error "7.4: anonymous may not change zumero_config" $denied "$config_copy" \
  "INSERT INTO z_acl (scheme, who, tbl, op, result) VALUES ('', zumero_named_constant('acl_who_anyone'), '', zumero_named_constant('acl_op_create_dbfile'), zumero_named_constant('acl_result_allow'));" \
  "$(sync_anonymous zumero_config)"
next_db
expect_error "7.4: anonymous still may not create a dbfile" $denied "$db" "$new_table" "$(sync_anonymous anonymous_made)"
expect_error "7.4: nobody pulls zumero_users_admin, admins included" $denied "$work/install/empty.db" \
  "$(sync_as zumero_users_admin zumero_users_admin admin "$admin_pw")"

# ---- 7.5: free private wikis --------------------------------------------------------------

start_server wiki --admin-password "my admin password"
run_script "7.5: the owners auth dbfile" "$work/wiki/owners_tmp.db" wiki_owners_7_5.sql
run_script "7.5: zumero_config lets owners create dbfiles" :memory: wiki_config_7_5.sql
run_script "7.5: Aretha registers, makes her members list and her wiki" "$work/wiki/aretha_wiki.db" wiki_create_7_5.sql
expect_file "7.5: the wiki exists on the server" "$data/my_wiki_pages.db"
expect_file "7.5: the members list exists on the server" "$data/my_wiki_members.db"

w() { printf '%s' "$work/wiki/$1.db"; }
scratch=$(w scratch)
members=my_wiki_members
aretha_add() {
  printf "SELECT zumero_internal_auth_add_user('%s', '%s', %s, %s, 'respect', '%s', '%s');" \
    "$url" "$members" "$(internal owners)" "$1" "$2" "$3"
}
# Only Aretha adds members; with her name as the guide writes it, or plainly.
expect_ok "7.5: Aretha adds a member" "$scratch" "$(aretha_add "'Aretha'" wendy wendy-pw)"
expect_ok "7.5: Aretha (as acl_who_specific_user || 'Aretha') adds a member" "$scratch" \
  "$(aretha_add "zumero_named_constant('acl_who_specific_user') || 'Aretha'" walt walt-pw)"

# Anyone can self-register into owners.
expect_ok "7.5: anyone registers in owners" "$scratch" \
  "SELECT zumero_internal_auth_add_user('$url', 'owners', NULL, NULL, NULL, 'otis', 'otis-pw');"
expect_ok "7.5: a wiki member registers in owners too" "$scratch" \
  "SELECT zumero_internal_auth_add_user('$url', 'owners', $(internal $members), 'wendy', 'wendy-pw', 'wanda', 'wanda-pw');"
expect_error "7.5: a name taken in owners" zumero:unique_constraint_violation "$scratch" \
  "SELECT zumero_internal_auth_add_user('$url', 'owners', NULL, NULL, NULL, 'Aretha', 'mine now');"

# Nobody but Aretha adds members.
# add_member_as CREDENTIALS_SQL: tries to add mallory to the members.
add_member_as() {
  printf "SELECT zumero_internal_auth_add_user('%s', '%s', %s, 'mallory', 'x');" "$url" "$members" "$1"
}
expect_error "7.5: another owner may not add members" $denied "$scratch" \
  "$(add_member_as "$(internal owners), 'otis', 'otis-pw'")"
expect_error "7.5: anonymous may not add members" $denied "$scratch" \
  "$(add_member_as "NULL, NULL, NULL")"
expect_error "7.5: the admin may not add members" $denied "$scratch" \
  "$(add_member_as "$(internal zumero_users_admin), 'admin', 'my admin password'")"
expect_error "7.5: a member may not add members" $denied "$scratch" \
  "$(add_member_as "$(internal $members), 'wendy', 'wendy-pw'")"
expect_error "7.5: mallory was not added" zumero:authentication_failed "$(w mallory_pull)" \
  "$(sync_as my_wiki_pages $members mallory x)"

# Members pull and write the wiki.
expect_ok "7.5: a member pulls the wiki" "$(w wendy)" "$(sync_as my_wiki_pages $members wendy wendy-pw)"
expect_output "7.5: the member has the wiki table and its rules" "1|1|1|2" "$(w wendy)" \
  "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'wiki'), (SELECT count(*) FROM \"t\$schema\" WHERE kind = 'row_rule'), (SELECT count(*) FROM \"t\$schema\" WHERE kind = 'column_rule'), (SELECT count(*) FROM z_acl WHERE op = '*');"
expect_ok "7.5: a member writes a page" "$(w wendy)" \
  "INSERT INTO wiki VALUES ('Home', 'Welcome to the wiki');" "$(sync_as my_wiki_pages $members wendy wendy-pw)"
expect_ok "7.5: another member pulls" "$(w walt)" "$(sync_as my_wiki_pages $members walt walt-pw)"
expect_output "7.5: the other member sees the page" "Welcome to the wiki" "$(w walt)" \
  "SELECT content FROM wiki WHERE title = 'Home';"
expect_ok "7.5: the other member edits the page" "$(w walt)" \
  "UPDATE wiki SET content = 'Welcome to our wiki' WHERE title = 'Home';" "$(sync_as my_wiki_pages $members walt walt-pw)"
expect_ok "7.5: the first member syncs again" "$(w wendy)" "$(sync_as my_wiki_pages $members wendy wendy-pw)"
expect_output "7.5: the first member sees the edit" "Welcome to our wiki" "$(w wendy)" \
  "SELECT content FROM wiki WHERE title = 'Home';"

# Nobody else pulls or writes it: the wiki is members only.
expect_error "7.5: anonymous may not pull the wiki" $denied "$(w anonymous_pull)" "$(sync_anonymous my_wiki_pages)"
expect_error "7.5: another owner may not pull the wiki" $denied "$(w otis_pull)" "$(sync_as my_wiki_pages owners otis otis-pw)"
expect_error "7.5: Aretha, not a member, may not pull the wiki" $denied "$(w aretha_pull)" \
  "$(sync_as my_wiki_pages owners Aretha respect)"
expect_error "7.5: the admin may not pull the wiki" $denied "$(w admin_pull)" \
  "$(sync_as my_wiki_pages zumero_users_admin admin 'my admin password')"
wiki_page="CREATE VIRTUAL TABLE wiki USING zumero (title text NOT NULL UNIQUE, content text NOT NULL); INSERT INTO wiki VALUES ('Spam', 'buy now');"
expect_error "7.5: another owner may not write the wiki" $denied "$(w otis_write)" "$wiki_page" \
  "$(sync_as my_wiki_pages owners otis otis-pw)"
expect_error "7.5: anonymous may not write the wiki" $denied "$(w anonymous_write)" "$wiki_page" \
  "$(sync_anonymous my_wiki_pages)"
expect_ok "7.5: a member syncs after the refusals" "$(w wendy)" "$(sync_as my_wiki_pages $members wendy wendy-pw)"
expect_output "7.5: the refused writes left nothing" "1" "$(w wendy)" "SELECT count(*) FROM wiki;"

# Owners create dbfiles; others do not.
expect_ok "7.5: a self-registered owner creates a wiki" "$(w otis_wiki)" "$new_table" \
  "$(sync_as otis_wiki owners otis otis-pw)"
expect_file "7.5: the owner's dbfile exists" "$data/otis_wiki.db"
expect_error "7.5: anonymous may not create a dbfile" $denied "$(w anonymous_wiki)" "$new_table" \
  "$(sync_anonymous anonymous_wiki)"
expect_error "7.5: a member who is not an owner may not create a dbfile" $denied "$(w wendy_wiki)" "$new_table" \
  "$(sync_as wendy_wiki $members wendy wendy-pw)"
expect_no_file "7.5: the refused dbfiles do not exist" "$data/anonymous_wiki.db"
expect_no_file "7.5: the refused dbfiles do not exist" "$data/wendy_wiki.db"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
