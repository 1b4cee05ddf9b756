#!/bin/sh
# Feeds an SQL script to the stock sqlite3 shell after ".load"-ing the extension,
# then compares standard output with the expected text and looks for the expected
# error messages on standard error.
# Usage: shell_test.sh <sqlite3 shell> <extension path without suffix> <script.sql> <expected output>
set -eu
shell=$1
extension=$2
script=$3
expected=$4

work=$(mktemp -d "${TMPDIR:-/tmp}/zumero-shell-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

{
  printf '.load %s\n' "$extension"
  cat "$script"
} > "$work/input.sql"

# A sanitizer runtime the shell needs for a sanitized extension (ZUMERO_SHELL_PRELOAD)
# is preloaded into the shell alone: /bin/sh itself crashes under ThreadSanitizer.
if [ -n "${ZUMERO_SHELL_PRELOAD:-}" ]; then
  set -- env LD_PRELOAD="$ZUMERO_SHELL_PRELOAD" "$shell"
else
  set -- "$shell"
fi

# The shell exits non-zero because the script contains statements that must fail.
"$@" -batch "$work/test.db" < "$work/input.sql" > "$work/stdout" 2> "$work/stderr" || true

status=0
if ! diff -u "$expected" "$work/stdout"; then
  echo "FAIL: standard output differs from $expected" >&2
  status=1
fi
for message in zumero:no_dollar_sign_in_table_name zumero:table_drop_unsupported \
               zumero:unrecognized_named_constant; do
  if ! grep -q "$message" "$work/stderr"; then
    echo "FAIL: expected error '$message' on standard error" >&2
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "--- standard error of the shell ---" >&2
  cat "$work/stderr" >&2
fi
# Errors other than the three expected ones point at a problem.
unexpected=$(grep -E 'near line|^Error|Sanitizer|runtime error:' "$work/stderr" |
             grep -v -e zumero:no_dollar_sign_in_table_name -e zumero:table_drop_unsupported \
                     -e zumero:unrecognized_named_constant || true)
if [ -n "$unexpected" ]; then
  echo "FAIL: unexpected messages on standard error:" >&2
  echo "$unexpected" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "PASS"
exit "$status"
