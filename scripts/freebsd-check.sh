#!/usr/bin/env bash
# Compiles the faio library for FreeBSD (amd64) against real FreeBSD system headers,
# with warnings as errors, to check the kqueue/POSIX AIO backend and the portable
# core; then checks that the FreeBSD-only code really is in the archive. Compile
# and archive only: nothing links or runs (the sysroot has headers, no libc).
#
# usage: scripts/freebsd-check.sh SYSROOT [BUILD_DIR]
#        scripts/freebsd-check.sh --archive SYSROOT.tar.xz [BUILD_DIR]
#
# SYSROOT holds FreeBSD's usr/include; --archive unpacks one (a tarball whose top
# directory is sysroot/, as ../shared/freebsd/sysroot.tar.xz) into the build
# directory first. ../shared/freebsd/README.md (and docs/backends.md) say how such
# a sysroot is laid out from a FreeBSD source snapshot.
#
# Without any argument (and no FREEBSD_SYSROOT) it prints SKIPPED and exits 0, for
# a developer without the sysroot. Once a sysroot or archive is given, every
# problem is a failure: a missing or unreadable sysroot, a compile error or
# warning, a FreeBSD-only source missing from libfaio.a, or an object that does
# not call the FreeBSD interfaces it exists for.
#
# Needs: clang, lld, llvm-14 (llvm-nm), libc++-14-dev, libc++abi-14-dev (Debian
# packages; scripts/debian-packages*.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
archive=
if [ "${1:-}" = --archive ]; then
  archive=${2:?usage: $0 --archive SYSROOT.tar.xz [BUILD_DIR]}
  shift 2
  build=${1:-/tmp/build-freebsd}
  if [ ! -f "$archive" ]; then
    echo "freebsd-check: FAILED - no sysroot archive at $archive" >&2
    exit 1
  fi
  mkdir -p "$build"
  build=$(cd "$build" && pwd)
  rm -rf "$build/sysroot"
  tar -xJf "$archive" -C "$build"
  sysroot=$build/sysroot
else
  sysroot=${1:-${FREEBSD_SYSROOT:-}}
  build=${2:-/tmp/build-freebsd}
  if [ -z "$sysroot" ]; then
    echo "freebsd-check: SKIPPED - no FreeBSD sysroot given."
    echo "  usage: $0 SYSROOT [BUILD_DIR] | --archive SYSROOT.tar.xz [BUILD_DIR]"
    exit 0
  fi
fi
if [ ! -f "$sysroot/usr/include/aio.h" ] || [ ! -f "$sysroot/usr/include/sys/event.h" ]; then
  echo "freebsd-check: FAILED - $sysroot lacks usr/include/aio.h or usr/include/sys/event.h" >&2
  exit 1
fi
nm=$(command -v llvm-nm-14 || command -v llvm-nm || true)
if [ -z "$nm" ]; then
  echo "freebsd-check: FAILED - llvm-nm not found (apt-get install llvm-14)" >&2
  exit 1
fi

toolchain="$here/cmake/freebsd-x86_64.cmake"
export FREEBSD_SYSROOT=$sysroot
cmake -S "$here" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DFAIO_BUILD_TESTS=OFF -DFAIO_BUILD_TOOLS=OFF -DFAIO_BUILD_BENCHMARKS=OFF \
  -DFAIO_BACKEND_POSIX_AIO=ON -DFAIO_WERROR=ON -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --target faio -j2
lib=$build/src/libfaio.a

fail=0
problem() {
  echo "freebsd-check: FAILED - $*" >&2
  fail=1
}
members=$(ar t "$lib")

# Every source with FreeBSD-only code (a __FreeBSD__ or FAIO_FREEBSD_AIO block, or
# a FreeBSD-only interface) must have its object in the archive.
mapfile -t freebsd_sources < <(cd "$here/src" &&
  grep -rlE '__FreeBSD__|FAIO_FREEBSD_AIO|SIGEV_KEVENT|EVFILT_|sysctlbyname|aio_readv|aio_writev' \
    --include='*.cc' . | sed 's|^\./||' | sort)
[ "${#freebsd_sources[@]}" -gt 0 ] || problem "no FreeBSD-only source found under src/"
for src in "${freebsd_sources[@]}"; do
  obj=$(basename "$src").o
  if grep -qx "$obj" <<<"$members"; then
    echo "  in the archive: $src"
  else
    problem "$src has FreeBSD-only code but $obj is not in libfaio.a"
  fi
done

# The objects call the FreeBSD interfaces they are there for: an #if that went
# false (a wrong feature test) would compile cleanly and leave them out.
require() {  # require OBJECT SYMBOL...
  local obj=$1 sym syms
  shift
  syms=$("$nm" --undefined-only --format=just-symbols "$lib" 2>/dev/null |
    awk -v o="$obj" '/:$/ { cur = ($0 == o ":") } cur && !/:$/')
  for sym in "$@"; do
    if grep -qx "$sym" <<<"$syms"; then
      echo "  $obj calls $sym"
    else
      problem "$obj does not reference $sym"
    fi
  done
}
require notifier_kqueue.cc.o kqueue kevent
# The registry lists "kqueue" (FAIO_HAVE_KQUEUE=1): it calls CreateKqueueBackend.
if "$nm" --undefined-only --format=just-symbols "$lib" 2>/dev/null |
  awk '/:$/ { cur = ($0 == "registry.cc.o:") } cur && !/:$/' | grep -q CreateKqueueBackend; then
  echo "  registry.cc.o lists the kqueue backend"
else
  problem "registry.cc.o does not list the kqueue backend (FAIO_HAVE_KQUEUE is not 1)"
fi
require posix_aio_backend.cc.o lio_listio aio_fsync aio_error aio_return aio_cancel sysctlbyname
require posix_aio_limits.cc.o sysctlbyname
# Vectored POSIX AIO exists only from FreeBSD 13 (aio_readv/aio_writev, guarded by a
# feature test): where a source calls it, its object must reference it.
for src in "${freebsd_sources[@]}"; do
  for sym in aio_readv aio_writev; do
    if grep -q "\b$sym(" "$here/src/$src"; then require "$(basename "$src").o" "$sym"; fi
  done
done

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "freebsd-check: OK - libfaio compiled for FreeBSD (-Werror):"
"$nm" --defined-only "$lib" 2>/dev/null | grep -c ' T ' | sed 's/^/  defined functions: /'
sed 's/^/  /' <<<"$members"
