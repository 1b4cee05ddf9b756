#!/usr/bin/env bash
# Runs every test zumero has, in four stages:
#   1. a normal build (Release) in build-release/
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
#   3. a ThreadSanitizer build (gcc) in build-tsan/; its reports are collected in
#      build-tsan/tsan-reports/, from the test programs and from every zumero-server
#      they start
#   4. a short run of each fuzz target (scripts/fuzz.sh, clang, build-fuzz/)
# Each build registers its tests with ctest; the whole suite runs in all three.
#
#   bash scripts/test.sh              every stage
#   bash scripts/test.sh tsan fuzz    only the stages named (release, asan, tsan, fuzz)
#
# Installs missing Debian packages first (scripts/install-deps.sh uses apt-get
# and needs root or sudo). Needs no terminal input, so it runs the same way in
# CI. Exits 0 only if every stage succeeds; the last line printed is a one-line
# summary.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

parallel=2
test_timeout=600

banner() { printf '\n========== %s ==========\n' "$*"; }

all_stages=(release asan tsan fuzz)
stages=("$@")
[ "${#stages[@]}" -gt 0 ] || stages=("${all_stages[@]}")
for stage in "${stages[@]}"; do
  case " ${all_stages[*]} " in
    *" $stage "*) ;;
    *) echo "test.sh: unknown stage '$stage' (stages: ${all_stages[*]})" >&2; exit 2 ;;
  esac
done
wants() { case " ${stages[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

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

if wants release; then
  run_variant release build-release -DCMAKE_BUILD_TYPE=Release -DZUMERO_SANITIZE=OFF
fi

if wants asan; then
  # Sanitizer settings for our own binaries: any finding stops the test.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_variant asan build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZUMERO_SANITIZE=ON
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if wants tsan; then
  # Reports go to files, so those of server processes (whose stderr the tests keep in
  # temporary directories) are seen too; any report fails the stage.
  tsan_reports="$repo_root/build-tsan/tsan-reports"
  rm -rf "$tsan_reports"
  mkdir -p "$tsan_reports"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$tsan_reports/tsan"
  if [ -f scripts/tsan.supp ]; then TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$repo_root/scripts/tsan.supp"; fi
  run_variant tsan build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZUMERO_TSAN=ON \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
  unset TSAN_OPTIONS
  if [ -n "$(ls -A "$tsan_reports")" ]; then
    banner "tsan: reports in $tsan_reports"
    cat "$tsan_reports"/*
    summary[${#summary[@]}-1]="${summary[${#summary[@]}-1]}; $(ls "$tsan_reports" | wc -l) ThreadSanitizer reports"
    failed=1
  fi
fi

if wants fuzz; then
  # 20 seconds per target on the seed corpus, with ASan and UBSan.
  banner "fuzz: scripts/fuzz.sh 20"
  fuzz_started=$SECONDS
  if bash scripts/fuzz.sh 20; then
    fuzz_outcome="passed"
  else
    fuzz_outcome="failed (inputs in build-fuzz/crashes/)"
    failed=1
  fi
  summary+=("fuzz: $fuzz_outcome, $((SECONDS - fuzz_started))s")
  banner "fuzz: $fuzz_outcome"
fi

printf '\n'
for line in "${summary[@]}"; do
  printf '  %s\n' "$line"
done
if [ "$failed" -eq 0 ]; then
  echo "test.sh: ALL PASSED (${stages[*]})"
else
  joined="$(printf '%s; ' "${summary[@]}")"
  echo "test.sh: FAILED (${joined%; })"
fi
exit "$failed"
