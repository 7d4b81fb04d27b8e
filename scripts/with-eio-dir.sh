#!/usr/bin/env bash
# with-eio-dir.sh - run a command with FAIO_TEST_EIO_DIR set to a directory
# whose write-back fails with EIO, so the conformance test
# Data.FailedFlushStaysFailedUntilClearError runs instead of skipping.
#
#   scripts/with-eio-dir.sh [--require-fault] CMD [ARG]...
#   e.g. scripts/with-eio-dir.sh ctest --test-dir build --output-on-failure
#
# The directory is a mount of faio's FUSE fault injector, faio_faultfs
# (tests/kernel_faults/faultfs.c), over a fresh backing directory, with the
# kernel's write-back cache and every write failing with EIO: writes land in the
# page cache, write-back fails, the kernel reports EIO to the first fsync of the
# file and success to later ones ("fsyncgate"), so only faio's sticky flush
# error makes the later flushes fail as the test demands. The files that go
# there are small and throwaway; the mount and both directories are removed
# when CMD ends, fails or is interrupted.
#
# FAIO_FAULTFS names the injector (default: build/tests/kernel_faults/faio_faultfs
# of this checkout). Needs /dev/fuse: as root, or fusermount3 (package fuse3).
# --require-fault fails (status 3) when CMD succeeded but no write ever reached
# the mount, i.e. the test skipped everywhere instead of running. The exit status
# is CMD's, or 2 when the mount cannot be set up.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
require_fault=0
if [ "${1:-}" = "--require-fault" ]; then
  require_fault=1
  shift
fi
if [ $# -eq 0 ]; then
  echo "usage: scripts/with-eio-dir.sh [--require-fault] CMD [ARG]..." >&2
  exit 2
fi
faultfs=${FAIO_FAULTFS:-$root/build/tests/kernel_faults/faio_faultfs}
if [ ! -x "$faultfs" ]; then
  echo "with-eio-dir: no faio_faultfs at $faultfs (build the target faio_faultfs," \
       "needs libfuse3-dev; or set FAIO_FAULTFS)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/faio-eio.XXXXXX")
mkdir "$work/backing" "$work/mnt"
fs_pid=
unmount() {
  for _ in $(seq 50); do
    mountpoint -q "$work/mnt" || return 0
    if [ "$(id -u)" -eq 0 ]; then umount "$work/mnt" 2>/dev/null && return 0
    else fusermount3 -u "$work/mnt" 2>/dev/null && return 0; fi
    sleep 0.1
  done
  # Still busy (a process of CMD left behind holds a file): detach it lazily.
  if [ "$(id -u)" -eq 0 ]; then umount -l "$work/mnt" || true
  else fusermount3 -u -z "$work/mnt" || true; fi
}
cleanup() {
  unmount
  if [ -n "$fs_pid" ]; then
    # Unmounted, the injector ends by itself; give it a moment, then end it.
    for _ in $(seq 30); do kill -0 "$fs_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$fs_pid" 2>/dev/null || true
    wait "$fs_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$faultfs" --writeback --rule "op=write err=EIO" "$work/backing" "$work/mnt" \
  </dev/null >"$work/log" 2>&1 &
fs_pid=$!
mounted() { [ "$(stat -f -c %t "$work/mnt" 2>/dev/null)" = 65735546 ]; }  # FUSE_SUPER_MAGIC
for _ in $(seq 100); do
  mounted && break
  if ! kill -0 "$fs_pid" 2>/dev/null; then
    echo "with-eio-dir: faio_faultfs did not mount: $(cat "$work/log")" >&2
    fs_pid=
    exit 2
  fi
  sleep 0.1
done
if ! mounted; then
  echo "with-eio-dir: faio_faultfs did not mount within 10 s: $(cat "$work/log")" >&2
  exit 2
fi

# CMD runs in the foreground: Ctrl-C reaches it (and its children) as usual;
# a signal sent to this script alone takes effect once CMD has ended.
status=0
FAIO_TEST_EIO_DIR=$work/mnt "$@" || status=$?
if [ "$status" -eq 0 ] && [ "$require_fault" -eq 1 ] &&
   ! grep -Eq '^rule 0 fired=[1-9]' "$work/mnt/.faultfs"; then
  echo "with-eio-dir: no write reached $work/mnt (did the test skip?):" \
       "$(cat "$work/mnt/.faultfs")" >&2
  status=3
fi
exit "$status"
