#!/usr/bin/env bash
# test_fio_engine.sh FIO PLUGIN BACKEND WORKDIR
# test_fio_engine.sh FIO PLUGIN --options WORKDIR
#
# ctest's test of libfaio_fio.so (bench/fio_engine/CMakeLists.txt). With a
# backend name it runs fio through the engine on that faio backend, on a file in
# WORKDIR, with two jobs one after the other:
#   randrw  4 KiB random reads and writes, iodepth 16, 8 MiB, verify=crc32c
#           (fio checks every block it wrote when it reads it back);
#   fsync   1 MiB of 4 KiB sequential writes with fsync=8 (a faio flush every 8
#           writes);
#   fixed   2 MiB of 4 KiB random writes, verified, with faio_fixedbufs and
#           faio_registerfiles (io_uring: registered buffers and files; the
#           other backends run without them);
# with O_DIRECT when WORKDIR's file system takes it. It passes when fio exits 0
# and its JSON shows no job error, I/O done in both directions, all 256 writes
# of the fsync job and at least 31 syncs, all 512 writes of the fixed job and
# their verification. Exit 77 (ctest: skipped) when faio says the
# backend is not available on this host.
# Then, with O_DIRECT, a read of 100 bytes, which the kernel refuses (EINVAL): fio
# must report that error for the I/O, as it does with its own engines.
# With --options it checks the engine's own options: an unknown faio_backend is
# refused by fio's option parser, and faio_threads is accepted.
set -euo pipefail

[[ $# -eq 4 ]] || { echo "usage: $0 FIO PLUGIN BACKEND|--options WORKDIR" >&2; exit 2; }
fio=$1 plugin=$2 backend=$3 work=$4
mkdir -p "$work"
file="$work/fio-engine.dat"
trap 'rm -f "$file"' EXIT
engine="--ioengine=external:$plugin"

if [[ $backend == --options ]]; then
  # An unknown backend: fio must refuse the job, before doing any I/O.
  if "$fio" --name=bad "$engine" --faio_backend=no_such_backend --filename="$file" \
    --size=1M --rw=read >"$work/bad.out" 2>&1; then
    echo "FAIL: fio accepted faio_backend=no_such_backend" >&2
    cat "$work/bad.out" >&2
    exit 1
  fi
  # fio's parser lists the valid values when it refuses one.
  grep -q "io_uring" "$work/bad.out" || { cat "$work/bad.out" >&2; echo "FAIL: no list of backends" >&2; exit 1; }
  # faio_threads: a valid value runs, an out-of-range one is refused.
  "$fio" --name=threads "$engine" --faio_backend=threads --faio_threads=3 --filename="$file" \
    --size=1M --rw=randread --bs=4k --iodepth=8 --output-format=json >"$work/threads.json"
  python3 - "$work/threads.json" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
assert job["error"] == 0, job["error"]
assert job["read"]["total_ios"] == 256, job["read"]["total_ios"]
EOF
  if "$fio" --name=threads "$engine" --faio_threads=100000 --filename="$file" --size=1M \
    --rw=read >"$work/bad-threads.out" 2>&1; then
    echo "FAIL: fio accepted faio_threads=100000" >&2
    exit 1
  fi
  echo "PASS: engine options"
  exit 0
fi

# O_DIRECT where the file system does it (tmpfs, for one, does not).
direct=0
if dd if=/dev/zero of="$file" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
  direct=1
fi
rm -f "$file"

out="$work/result.json"
err="$work/stderr.txt"
status=0
"$fio" --output-format=json --output="$out" \
  --filename="$file" "$engine" --faio_backend="$backend" --direct=$direct \
  --name=randrw --rw=randrw --bs=4k --size=8M --iodepth=16 --iodepth_batch_submit=4 \
  --iodepth_batch_complete_min=1 --verify=crc32c --runtime=15 \
  --name=fsync --stonewall --rw=write --bs=4k --size=1M --fsync=8 --iodepth=4 \
  --verify=0 --runtime=15 \
  --name=fixed --stonewall --rw=randwrite --bs=4k --size=2M --iodepth=8 --faio_fixedbufs \
  --faio_registerfiles --verify=crc32c --runtime=15 2>"$err" || status=$?
if grep -q "FAIO_E_NOT_SUPPORTED" "$err"; then
  echo "SKIP: faio backend $backend is not available here:" >&2
  cat "$err" >&2
  exit 77
fi
if [[ $status -ne 0 ]]; then
  echo "FAIL: fio exited $status (backend $backend)" >&2
  cat "$err" "$out" >&2 2>/dev/null || true
  exit 1
fi

if ((direct)); then
  # The error path: the host's errno reaches fio's io_u->error.
  if "$fio" --name=einval --filename="$file" "$engine" --faio_backend="$backend" --direct=1 \
    --rw=randread --bs=100 --size=1M --iodepth=4 --output="$work/einval.out" 2>"$work/einval.err"; then
    echo "FAIL: a 100-byte O_DIRECT read succeeded through the engine ($backend)" >&2
    exit 1
  fi
  grep -q "io_u error.*Invalid argument" "$work/einval.err" || {
    cat "$work/einval.err" >&2
    echo "FAIL: fio did not report EINVAL for a 100-byte O_DIRECT read ($backend)" >&2
    exit 1
  }
fi

python3 - "$out" "$backend" "$direct" <<'EOF'
import json, sys
path, backend, direct = sys.argv[1], sys.argv[2], sys.argv[3]
jobs = {j["jobname"]: j for j in json.load(open(path))["jobs"]}
failed = []
def check(cond, what):
    if not cond:
        failed.append(what)
rr, fs, fx = jobs.get("randrw"), jobs.get("fsync"), jobs.get("fixed")
check(rr is not None and fs is not None and fx is not None, "all three jobs in the JSON")
if rr and fs and fx:
    for j in (rr, fs, fx):
        check(j["error"] == 0, f'{j["jobname"]}: error {j["error"]}')
    # randrw covers 8 MiB = 2048 blocks of 4 KiB between reads and writes; the
    # verify phase reads every written block back, so there are more reads.
    check(rr["read"]["total_ios"] > 0, "randrw: reads done")
    check(rr["write"]["total_ios"] > 0, "randrw: writes done")
    check(rr["read"]["total_ios"] + rr["write"]["total_ios"] >= 2048,
          f'randrw: all 2048 blocks ({rr["read"]["total_ios"]} + {rr["write"]["total_ios"]})')
    check(rr["read"]["clat_ns"]["mean"] > 0, "randrw: completion latency measured")
    check(rr["read"]["slat_ns"]["mean"] > 0, "randrw: submission latency measured")
    check(fs["write"]["total_ios"] == 256, f'fsync: 256 writes ({fs["write"]["total_ios"]})')
    check(fs["write"]["io_bytes"] == 1 << 20, "fsync: 1 MiB written")
    # fio asks for a sync after every 8th write: 31 or 32 of them (not after the
    # last write when the job ends there). An asynchronous engine gets more: fio
    # keeps asking while the sync it queued has not completed (its own io_uring
    # and posixaio engines show the same), so only the lower bound is exact.
    check(fs["sync"]["total_ios"] >= 31, f'fsync: at least 31 syncs ({fs["sync"]["total_ios"]})')
    # Every block written is read back and checked by fio's verify phase.
    check(fx["write"]["total_ios"] == 512, f'fixed: 512 writes ({fx["write"]["total_ios"]})')
    check(fx["read"]["total_ios"] == 512, f'fixed: 512 blocks verified ({fx["read"]["total_ios"]})')
if failed:
    print(f"FAIL ({backend}):", "; ".join(failed))
    sys.exit(1)
print(f'PASS: faio backend {backend} (direct={direct}): randrw {rr["read"]["total_ios"]} reads '
      f'+ {rr["write"]["total_ios"]} writes verified, {fs["sync"]["total_ios"]} fsyncs, '
      f'{fx["read"]["total_ios"]} blocks verified with faio_fixedbufs/faio_registerfiles')
EOF
