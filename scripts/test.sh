#!/usr/bin/env bash
# Runs every test zumero has, twice:
#   1. a normal build (Release) in build-release/
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
# Each build registers its tests with ctest; the whole suite runs in both.
#
#   bash scripts/test.sh
#
# Installs missing Debian packages first (scripts/install-deps.sh uses apt-get
# and needs root or sudo). Needs no terminal input, so it runs the same way in
# CI. Exits 0 only if both builds and both test runs succeed; the last line
# printed is a one-line summary.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

parallel=2
test_timeout=600

banner() { printf '\n========== %s ==========\n' "$*"; }

# Configures, builds and tests one variant. Arguments: name, build directory,
# extra cmake arguments. Records "name: outcome" in the summary array.
summary=()
failed=0
run_variant() {
  local name="$1" dir="$2"
  shift 2
  local started=$SECONDS outcome counts=""

  banner "$name: configure ($dir)"
  if ! cmake -S . -B "$dir" -DZUMERO_BUILD_TESTS=ON "$@"; then
    outcome="configure failed"
  else
    banner "$name: build"
    if ! cmake --build "$dir" -j"$parallel"; then
      outcome="build failed"
    else
      banner "$name: ctest"
      # --no-tests=error: an empty suite means the build lost its tests.
      if (cd "$dir" && ctest --output-on-failure -j"$parallel" --timeout "$test_timeout" \
            --no-tests=error 2>&1 | tee ctest.log); then
        outcome="passed"
      else
        outcome="tests failed"
      fi
      # ctest ends with a line like "100% tests passed, 0 tests failed out of 12".
      counts="$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -n 1 || true)"
    fi
  fi

  local line="$name: $outcome"
  [ -n "$counts" ] && line="$line ($counts)"
  line="$line, $((SECONDS - started))s"
  summary+=("$line")
  [ "$outcome" = "passed" ] || failed=1
  banner "$line"
}

banner "dependencies (scripts/install-deps.sh)"
bash scripts/install-deps.sh < /dev/null

run_variant release build-release -DCMAKE_BUILD_TYPE=Release -DZUMERO_SANITIZE=OFF

# Sanitizer settings for our own binaries: any finding stops the test.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_variant asan build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZUMERO_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS

printf '\n'
for line in "${summary[@]}"; do
  printf '  %s\n' "$line"
done
if [ "$failed" -eq 0 ]; then
  echo "test.sh: ALL PASSED (release and asan builds)"
else
  joined="$(printf '%s; ' "${summary[@]}")"
  echo "test.sh: FAILED (${joined%; })"
fi
exit "$failed"
