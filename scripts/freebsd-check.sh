#!/usr/bin/env bash
# Compiles the faio library for FreeBSD (amd64) against real FreeBSD system headers,
# to check the kqueue/POSIX AIO backend and the portable core. Compile and archive
# only: nothing links or runs. See ../shared/freebsd/README.md (or docs/backends.md)
# for how to lay out a sysroot from a FreeBSD source snapshot.
#
# usage: scripts/freebsd-check.sh SYSROOT [BUILD_DIR]
# Needs: clang, lld, libc++-14-dev, libc++abi-14-dev (Debian packages).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sysroot=${1:-${FREEBSD_SYSROOT:-}}
build=${2:-/tmp/build-freebsd}
if [ -z "$sysroot" ] || [ ! -f "$sysroot/usr/include/aio.h" ]; then
  echo "freebsd-check: SKIPPED - no FreeBSD sysroot given (or it lacks usr/include/aio.h)."
  echo "  usage: $0 SYSROOT   (make one with assemble_sysroot.sh from a FreeBSD source tree)"
  exit 0
fi
toolchain="$here/cmake/freebsd-x86_64.cmake"
export FREEBSD_SYSROOT=$sysroot
cmake -S "$here" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DFAIO_BUILD_TESTS=OFF -DFAIO_BUILD_TOOLS=OFF -DFAIO_BUILD_BENCHMARKS=OFF \
  -DFAIO_WERROR=ON -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --target faio -j2
echo "freebsd-check: OK - libfaio compiled for FreeBSD:"
llvm-nm-14 --defined-only "$build"/src/libfaio.a 2>/dev/null | grep -c ' T ' | sed 's/^/  defined functions: /' || true
ar t "$build"/src/libfaio.a | sed 's/^/  /'
