#!/usr/bin/env bash
# fuzz.sh SECONDS - builds faio's libFuzzer targets (fuzz/) with clang into
# build-fuzz and runs each for SECONDS seconds, starting from the committed
# seed corpus (fuzz/corpus/<name>). New inputs go to build-fuzz/corpus/<name>,
# never into the source tree. A crash, leak, sanitizer report, timeout or
# failed invariant stops the script with a non-zero status; the reproducer is
# left in build-fuzz/artifacts/.
#
# Environment: CXX_FUZZ (default clang++-14), CC_FUZZ (clang-14), FUZZ_BUILD
# (default <repo>/build-fuzz), FUZZ_JOBS (build parallelism, default 2).
set -euo pipefail

if [[ $# -ne 1 || ! $1 =~ ^[0-9]+$ || $1 -eq 0 ]]; then
  echo "usage: $0 SECONDS   (run each fuzzer for SECONDS seconds)" >&2
  exit 2
fi
seconds=$1
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
cxx=${CXX_FUZZ:-clang++-14}
cc=${CC_FUZZ:-clang-14}

cmake -S "$root/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$build" -j"${FUZZ_JOBS:-2}" \
  --target faio_fuzz_api faio_fuzz_fault_spec faio_fuzz_options

mkdir -p "$build/artifacts"
status=0
for name in api fault_spec options; do
  corpus=$build/corpus/$name
  mkdir -p "$corpus"
  echo "== fuzz $name for ${seconds}s"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a leak.
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$build/faio_fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
      "$corpus" "$root/fuzz/corpus/$name" 2>"$build/fuzz-$name.log"; then
    echo "fuzz $name FAILED; the log: $build/fuzz-$name.log" >&2
    tail -n 40 "$build/fuzz-$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz-$name.log" || true
    grep -E "^Done|cov:" "$build/fuzz-$name.log" | tail -n 1 || true
  fi
done
exit $status
