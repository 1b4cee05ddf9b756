#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (build-fuzz/, -DZUMERO_FUZZ=ON) and
# runs each for a while on a copy of its seed corpus.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET defaults to every target. Inputs that add
# coverage go to build-fuzz/corpus/<target>/ (never into fuzz/corpus/), so later runs
# start from where earlier ones got. A crash, leak, sanitizer report or hang leaves its
# input in build-fuzz/crashes/<target>/ and the log in build-fuzz/logs/<target>.log;
# reproduce with build-fuzz/fuzz/<target> <input>. The inputs in fuzz/crashers/<target>/
# (found before, not fixed yet) are replayed first. Exits non-zero when any target
# crashed, still fails on one of its crashers, or could not be built.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

all_targets=(fuzz_envelope fuzz_request_header fuzz_pull_cursor fuzz_definition)
seconds="${1:-60}"
[ "$#" -gt 0 ] && shift
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
for target in "${targets[@]}"; do
  if [ ! -d "fuzz/corpus/$target" ]; then
    echo "fuzz.sh: unknown target '$target' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done

bash scripts/install-deps.sh clang libclang-rt-14-dev < /dev/null

build=build-fuzz
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DZUMERO_FUZZ=ON -DZUMERO_BUILD_TESTS=OFF > "$build/configure.log" 2>&1 || {
  cat "$build/configure.log"
  echo "fuzz.sh: configure failed" >&2
  exit 1
}
cmake --build "$build" -j2 --target "${targets[@]}"

# Sanitizer reports stop the target (the code is built with -fno-sanitize-recover), and
# libFuzzer keeps the input; a stack trace makes the report useful.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

mkdir -p "$build/logs"
summary=()
crashed=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  crashes="$build/crashes/$target"
  log="$build/logs/$target.log"
  mkdir -p "$corpus" "$crashes"
  cp -R "fuzz/corpus/$target/." "$corpus/"
  dictionary=()
  [ -f "fuzz/dict/$target.dict" ] && dictionary=(-dict="fuzz/dict/$target.dict")

  # Inputs that failed before (fuzz/crashers/) must pass before the target counts as clean.
  known=0
  still_failing=0
  for input in fuzz/crashers/"$target"/*; do
    [ -f "$input" ] || continue
    known=$((known + 1))
    if ! "$build/fuzz/$target" "$input" > "$build/logs/$target.replay.log" 2>&1; then
      still_failing=$((still_failing + 1))
      echo "fuzz.sh: $target still fails on $input"
    fi
  done

  echo "fuzz.sh: $target for ${seconds}s"
  started=$SECONDS
  status=0
  # -timeout: an input that takes 10 s is a hang, reported like a crash.
  "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dictionary[@]}" "$corpus" > "$log" 2>&1 || status=$?
  executions="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
  [ -n "$executions" ] || executions="$(grep -Eo '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)"
  line="$target: ${executions:-?} executions in $((SECONDS - started))s, corpus $(ls "$corpus" | wc -l) inputs"
  if [ "$status" -ne 0 ]; then
    crashed=1
    line="$line, CRASHED (exit $status): $(ls -t "$crashes" | head -n 1 | sed "s|^|$crashes/|")"
    grep -a -E -A40 'ERROR: |runtime error|invariant broken|deadly signal|Timeout|out-of-memory' "$log" | head -n 60 || tail -n 60 "$log"
  else
    line="$line, no crash"
  fi
  if [ "$still_failing" -gt 0 ]; then
    crashed=1
    line="$line; $still_failing of $known inputs in fuzz/crashers/$target/ still fail"
  fi
  summary+=("$line")
  echo "fuzz.sh: $line"
done

printf '\n'
for line in "${summary[@]}"; do
  printf '  %s\n' "$line"
done
if [ "$crashed" -eq 0 ]; then
  echo "fuzz.sh: no crash in ${#targets[@]} targets"
else
  echo "fuzz.sh: FAILED; new crash inputs in $build/crashes/, logs in $build/logs/"
fi
exit "$crashed"
