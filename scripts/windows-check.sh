#!/usr/bin/env bash
# windows-check.sh - build faio for 64-bit Windows with mingw-w64 and run its
# tests (the conformance suite on iocp and threads, the C program) under Wine.
#
#   scripts/windows-check.sh [BUILD_DIR]     (default: build-mingw)
#
# Needs the Debian packages g++-mingw-w64-x86-64 (its -posix compiler), wine64
# and wine, cmake and googletest (its sources in /usr/src/googletest). Exits
# non-zero when a tool is missing, the build fails or a test fails; the last
# lines are ctest's summary. JOBS (default 2) sets build and test parallelism.
#
# Wine: a throwaway WINEPREFIX, booted once; a persistent wineserver and Wine's
# helper processes (services, explorer, ...) are started detached (setsid)
# before ctest, so they never hold ctest's pipes (ctest would wait on them and
# can hang); the server is stopped and the prefix removed at exit.
# WINEDEBUG=-all,err+all: Wine's err: messages only (the whole suite prints
# none), so that a test process Wine fails to start shows why in ctest's
# output; "-all" first also keeps Debian's wine script from printing its
# wine32 hint.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-mingw}
jobs=${JOBS:-2}

missing=()
for tool in x86_64-w64-mingw32-g++-posix x86_64-w64-mingw32-gcc-posix wine wineserver \
            wineboot cmake ctest setsid; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ! -f /usr/src/googletest/CMakeLists.txt ]; then missing+=("/usr/src/googletest"); fi
if [ ${#missing[@]} -ne 0 ]; then
  echo "windows-check: missing ${missing[*]}" >&2
  echo "  apt-get install g++-mingw-w64-x86-64 wine64 wine googletest cmake" >&2
  exit 2
fi

start=$(date +%s)
echo "== configure ($build)"
cmake -S "$root" -B "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64-x86_64.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DFAIO_WERROR=ON -DFAIO_BUILD_TESTS=ON >/dev/null
echo "== build"
cmake --build "$build" -j"$jobs"
built=$(date +%s)
echo "   built after $(( built - start )) s"

echo "== wine"
WINEPREFIX=$(mktemp -d /tmp/faio-wine.XXXXXX)
export WINEPREFIX WINEDEBUG=-all,err+all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  wineserver -k >/dev/null 2>&1 || true
  wineserver -w >/dev/null 2>&1 || true
  rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
setsid wineserver -p </dev/null >/dev/null 2>&1 &
setsid -w wineboot -i </dev/null >/dev/null 2>&1 || true
setsid -w wine cmd /c exit </dev/null >/dev/null 2>&1 || true
echo "   prefix $WINEPREFIX ready after $(( $(date +%s) - built )) s"

echo "== ctest"
status=0
# A test that fails is run once more (--repeat until-pass:2): now and then Wine
# fails to start a test process at all (the test "fails" in a few ms with no
# output, seen once in ~10 full runs); a test that fails twice still fails the
# leg, and ctest's log names every retried test. Not understood yet: in ~8200
# starts (10 full suites at -j2, and a 0.2 s test started in two parallel
# loops, on a loaded machine) it came back once, exit status 1 with no output
# at all under WINEDEBUG=-all, mid-run with the prefix long booted (so not a
# wineboot race); with err+all (above) the next one should say more.
ctest --test-dir "$build" -j"$jobs" --timeout 120 --output-on-failure --repeat until-pass:2 ||
  status=$?
echo "windows-check: $(( $(date +%s) - start )) s in all; ctest exit status $status"
exit "$status"
