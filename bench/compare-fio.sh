#!/usr/bin/env bash
# compare-fio.sh - the same jobs through fio and through faio, side by side.
#
# Every job runs, in each round, through
#   fio          with its engines io_uring, libaio, posixaio and psync;
#   fio + faio   fio with faio's external engine (bench/fio_engine, when built),
#                once per faio backend: fio's own accounting of faio's I/O;
#   faio bench   the faio tool, once per faio backend (io_uring, linux_aio,
#                posix_aio, threads),
# back to back on one file, rounds interleaved so that drift of a shared machine
# spreads over all of them. It prints Markdown tables of the medians over the
# rounds: IOPS, bandwidth, completion latency p50/p99, CPU time per I/O two
# ways, and for every faio row its ratio to the matching fio engine:
#   io_uring -> fio io_uring, linux_aio -> fio libaio,
#   posix_aio -> fio posixaio, threads -> fio posixaio.
# CPU per I/O: "job" is (usr_cpu + sys_cpu) × runtime / I/Os from the tool's
# JSON, which both fio and faio bench take from getrusage(RUSAGE_THREAD) of the
# job's thread: the CPU of helper threads (glibc's POSIX AIO threads, faio's
# thread pool) is not in it. "proc" is the user+system CPU time of the whole
# process tree (bash's `time`) less the tool's start-up and exit (measured once
# on a 4 KiB job), over the I/Os scaled to the ramp as well
# (I/Os × (ramp + runtime) / runtime): it counts every thread. Neither counts
# the kernel's io_uring workers (io-wq).
# Then it checks faio's targets and says by how much each is met or missed.
#
# Both tools are driven by the same job options and report fio's JSON (faio
# bench speaks fio's option names and JSON field names); jq reads the results.
# Batching: fio's default iodepth_batch_submit is 1 (one io_uring_enter or
# io_submit per request), faio bench's is auto (measured as the job runs, for
# rate and CPU: docs/tool.md), and on a VM every submit call that reaches the
# disk costs a virtio notification: randread-qd32-sb1 runs
# faio bench the way fio submits, to tell the two apart.
# A run a tool refuses (an option it does not know, a backend not available
# here) is reported with the tool's own message, and the rest goes on.
#
# Usage: bench/compare-fio.sh [options]
#   --file PATH      file to run on (default /var/tmp/faio-compare.dat). Laid out
#                    with fio (or dd) when missing and then removed at the end
#                    unless --keep; an existing file is used as it is, at its size,
#                    and never removed.
#   --size SIZE      size of a file laid out here (default 1G; --quick: 64M)
#   --runtime S      seconds per run (default 5; --quick: 1)
#   --ramp S         seconds run before measuring, per run (default 1; --quick: 0)
#   --rounds N       rounds (default 3; --quick: 1)
#   --faio PATH      the faio tool (default build/tools/faio/faio)
#   --plugin PATH    libfaio_fio.so (default build/bench/fio_engine/libfaio_fio.so
#                    when it exists); --plugin none leaves fio + faio out
#   --jobs LIST      comma-separated job names (default: all; --list shows them)
#   --fio-engines LIST      (default io_uring,libaio,posixaio,psync)
#   --faio-backends LIST    faio bench backends (default io_uring,linux_aio,posix_aio,threads)
#   --plugin-backends LIST  backends for fio + faio (default: the same)
#   --out DIR        keep every run's JSON and stderr in DIR (else a temporary
#                    directory, removed at the end unless --keep)
#   --keep           keep the laid-out file and the raw results
#   --quick          CI smoke test: 1 round of 1 s on a 64 MiB file
#   --strict         exit 1 when any run failed or was refused (default: report it)
#   --list           list the jobs and exit
# Needs: fio, jq, and a file system that does O_DIRECT (not tmpfs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---- the jobs ---------------------------------------------------------------------
# name | description | latency direction shown | options (fio names, key=value)
# "fixedbufs" is not a fio option: it selects registered buffers and files
# (fio io_uring: fixedbufs=1 registerfiles=1 hipri=0; faio bench: --fixedbufs
# --registerfiles; fio + faio: faio_fixedbufs=1 faio_registerfiles=1), and
# only io_uring runs the job. "tuned" is fio's io_uring tuned the way a fio
# user tunes it for IOPS (registered buffers and files, iodepth_batch_submit=16,
# iodepth_batch_complete_min=8) against faio bench with no tuning option at
# all: what a user gets without knowing the flags (issue 17).
JOBS=(
  "randread-qd1|4K random read, QD1, O_DIRECT|read|rw=randread bs=4096 iodepth=1 direct=1"
  "randread-qd32|4K random read, QD32, O_DIRECT|read|rw=randread bs=4096 iodepth=32 direct=1"
  "randread-qd32-sb1|4K random read, QD32, O_DIRECT, one request per submit call|read|rw=randread bs=4096 iodepth=32 direct=1 iodepth_batch_submit=1"
  "randread-qd32-fixed|4K random read, QD32, O_DIRECT, registered buffers and files|read|rw=randread bs=4096 iodepth=32 direct=1 fixedbufs"
  "randread-qd32-tuned|4K random read, QD32, O_DIRECT: fio io_uring tuned, faio bench untuned|read|rw=randread bs=4096 iodepth=32 direct=1 tuned"
  "randwrite-qd32|4K random write, QD32, O_DIRECT|write|rw=randwrite bs=4096 iodepth=32 direct=1"
  "seqread-1m-qd8|1 MiB sequential read, QD8, O_DIRECT|read|rw=read bs=1048576 iodepth=8 direct=1"
  "randrw70-qd32|4K random 70% read / 30% write, QD32, O_DIRECT|read|rw=randrw rwmixread=70 bs=4096 iodepth=32 direct=1"
  "write-fsync32|4K sequential write, fsync every 32 writes, QD8, buffered|write|rw=write bs=4096 iodepth=8 direct=0 fsync=32"
)

die() { echo "compare-fio.sh: $*" >&2; exit 2; }
say() { echo "compare-fio.sh: $*" >&2; }

list_jobs() {
  for j in "${JOBS[@]}"; do
    IFS='|' read -r name desc _ opts <<<"$j"
    printf '  %-22s %s  [%s]\n' "$name" "$desc" "$opts"
  done
}

# ---- options ----------------------------------------------------------------------
file=/var/tmp/faio-compare.dat
size="" runtime="" ramp="" rounds=""
faio="$root/build/tools/faio/faio"
plugin=""
plugin_set=0
jobs_sel=""
fio_engines="io_uring,libaio,posixaio,psync"
faio_backends="io_uring,linux_aio,posix_aio,threads"
plugin_backends=""
out=""
keep=0 quick=0 strict=0

while (($#)); do
  opt=$1 val=""
  case $opt in
    --*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
    --keep | --quick | --strict | --list | -h | --help) shift ;;
    --*) (($# >= 2)) || die "$opt needs a value"; val=$2; shift 2 ;;
    *) die "unexpected argument '$opt' (see --help)" ;;
  esac
  case $opt in
    --file) file=$val ;;
    --size) size=$val ;;
    --runtime) runtime=$val ;;
    --ramp) ramp=$val ;;
    --rounds) rounds=$val ;;
    --faio) faio=$val ;;
    --plugin) plugin=$val; plugin_set=1 ;;
    --jobs) jobs_sel=$val ;;
    --fio-engines) fio_engines=$val ;;
    --faio-backends) faio_backends=$val ;;
    --plugin-backends) plugin_backends=$val ;;
    --out) out=$val ;;
    --keep) keep=1 ;;
    --quick) quick=1 ;;
    --strict) strict=1 ;;
    --list) list_jobs; exit 0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $opt (see --help)" ;;
  esac
done

if ((quick)); then
  : "${size:=64M}" "${runtime:=1}" "${ramp:=0}" "${rounds:=1}"
else
  : "${size:=1G}" "${runtime:=5}" "${ramp:=1}" "${rounds:=3}"
fi
[[ $runtime =~ ^[0-9]+$ && $runtime -ge 1 ]] || die "--runtime must be a whole number of seconds >= 1"
[[ $ramp =~ ^[0-9]+$ ]] || die "--ramp must be a whole number of seconds"
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || die "--rounds must be >= 1"
: "${plugin_backends:=$faio_backends}"
if ((!plugin_set)); then
  plugin="$root/build/bench/fio_engine/libfaio_fio.so"
  [[ -f $plugin ]] || plugin=none
fi
if [[ $plugin != none ]]; then
  [[ -f $plugin ]] || die "--plugin $plugin: no such file"
  plugin=$(cd "$(dirname "$plugin")" && pwd)/$(basename "$plugin")
fi

command -v fio >/dev/null || die "fio is not installed (apt-get install fio)"
command -v jq >/dev/null || die "jq is not installed (apt-get install jq)"
[[ -x $faio ]] || say "no faio tool at $faio (--faio PATH): the faio bench rows are left out"

# size in bytes: a number with an optional binary suffix (k, M, G, T).
to_bytes() {
  local v=${1,,} n m=1
  [[ $v =~ ^([0-9]+)([kmgt]?)(i?b)?$ ]] || return 1
  n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in k) m=1024 ;; m) m=$((1 << 20)) ;; g) m=$((1 << 30)) ;; t) m=$((1 << 40)) ;; esac
  echo $((n * m))
}
size_bytes=$(to_bytes "$size") || die "--size $size: not a size (e.g. 64M, 1G)"
((size_bytes >= 16 << 20)) || die "--size must be at least 16M"

selected=()
for j in "${JOBS[@]}"; do
  name=${j%%|*}
  if [[ -z $jobs_sel || ",$jobs_sel," == *",$name,"* ]]; then selected+=("$j"); fi
done
if [[ -n $jobs_sel ]]; then
  IFS=',' read -ra wanted <<<"$jobs_sel"
  for w in "${wanted[@]}"; do
    found=0
    for j in "${JOBS[@]}"; do [[ ${j%%|*} == "$w" ]] && found=1; done
    ((found)) || die "--jobs: unknown job '$w'; the jobs are:
$(list_jobs)"
  done
fi
((${#selected[@]})) || die "no job selected"

# ---- scratch directory, the file --------------------------------------------------
if [[ -n $out ]]; then
  mkdir -p "$out"
  raw=$(cd "$out" && pwd)
  keep_raw=1
else
  raw=$(mktemp -d "${TMPDIR:-/tmp}/faio-compare.XXXXXX")
  keep_raw=$keep
fi
created_file=0
cleanup() {
  if ((created_file && !keep)); then rm -f "$file"; fi
  if ((!keep_raw)); then rm -rf "$raw"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$(dirname "$file")"
if [[ -e $file ]]; then
  [[ -f $file ]] || die "--file $file exists and is not a regular file"
  size_bytes=$(stat -c %s "$file")
  ((size_bytes >= 16 << 20)) || die "$file is smaller than 16 MiB; remove it or pick another --file"
  say "using the existing $file ($((size_bytes >> 20)) MiB); it is left in place"
else
  say "laying out $file ($((size_bytes >> 20)) MiB)"
  created_file=1
  if ! fio --name=layout --filename="$file" --size="$size_bytes" --rw=write --bs=1M \
    --ioengine=psync --direct=1 --output=/dev/null >"$raw/layout.err" 2>&1; then
    rm -f "$file"
    dd if=/dev/zero of="$file" bs=1M count=$((size_bytes >> 20)) oflag=direct status=none 2>>"$raw/layout.err" ||
      die "cannot lay out $file: $(tail -n 2 "$raw/layout.err")"
  fi
  size_bytes=$(stat -c %s "$file")
fi
# O_DIRECT must work where the file is: most jobs use it.
if ! dd if="$file" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null; then
  die "the file system of $file does not do O_DIRECT (tmpfs?); use --file on a disk"
fi

# ---- running ----------------------------------------------------------------------
results="$raw/results.jsonl"
: >"$results"

# jq program: one tool's JSON (fio's field names) -> the metrics of its first job.
read -r -d '' METRICS_JQ <<'EOF' || true
.jobs[0] as $j
| (($j.read.total_ios // 0) + ($j.write.total_ios // 0)) as $ios
| ([($j.read.runtime // 0), ($j.write.runtime // 0)] | max) as $rt
| def pct($p): ($j[$lat].clat_ns.percentile[$p] // null) | if . == null or . == 0 then null else . / 1000 end;
{ error: ($j.error // 0),
  ios: $ios,
  iops: (($j.read.iops // 0) + ($j.write.iops // 0)),
  mibps: ((($j.read.bw_bytes // 0) + ($j.write.bw_bytes // 0)) / 1048576),
  p50: pct("50.000000"),
  p99: pct("99.000000"),
  cpu_us: (if $ios > 0 and $rt > 0
           then ((($j.usr_cpu // 0) + ($j.sys_cpu // 0)) / 100 * ($rt / 1000) / $ios * 1e6)
           else null end) }
EOF

failures=0
# record JOB LABEL KIND BACKEND ROUND LATDIR JSON ERR RC CPU_SECONDS BASE_SECONDS:
# one result line.
record() {
  local job=$1 label=$2 kind=$3 backend=$4 round=$5 lat=$6 json=$7 err=$8 rc=$9 cpu=${10}
  local base=${11} m reason
  if ((rc == 0)) && m=$(jq -ce --arg lat "$lat" --argjson cpu "${cpu:-null}" \
    --argjson base "${base:-0}" --argjson runtime "$runtime" --argjson ramp "$ramp" \
    "($METRICS_JQ)"' | . + {proc_us: (if $cpu == null or .ios == 0 then null
         else ([$cpu - $base, 0] | max) / (.ios * ($ramp + $runtime) / $runtime) * 1e6 end)}' \
    "$json" 2>/dev/null) &&
    [[ $(jq -r '.error' <<<"$m") == 0 && $(jq -r '.ios' <<<"$m") != 0 ]]; then
    jq -cn --arg job "$job" --arg engine "$label" --arg kind "$kind" --arg backend "$backend" \
      --argjson round "$round" --argjson m "$m" \
      '{job: $job, engine: $engine, kind: $kind, backend: $backend, round: $round, ok: true} + $m' \
      >>"$results"
    return
  fi
  failures=$((failures + 1))
  if ((rc != 0)); then
    # The tool's own words: the last non-empty line of its stderr (fio prints
    # some errors into its --output file instead).
    reason=$(cat "$err" "$json" 2>/dev/null | grep -v '^[[:space:]]*$' | grep -iv '^note:' |
      grep -iE 'error|invalid|unknown|not |refus|fail|unsupported|unavailable|usage|required|extra' |
      tail -n 1 | cut -c1-160)
    [[ -n $reason ]] || reason=$(grep -v '^[[:space:]]*$' "$err" 2>/dev/null | tail -n 1 | cut -c1-160)
    reason="exit $rc: ${reason:-no message}"
  else
    reason="no I/O done or the job reported an error"
  fi
  say "  $label refused or failed $job: $reason"
  jq -cn --arg job "$job" --arg engine "$label" --arg kind "$kind" --arg backend "$backend" \
    --argjson round "$round" --arg reason "$reason" \
    '{job: $job, engine: $engine, kind: $kind, backend: $backend, round: $round, ok: false, reason: $reason}' \
    >>"$results"
}

# The common options of a job, as fio --key=value and as faio bench --key value.
fio_args() { # OPTS ENGINE_KIND
  local o args=()
  for o in $1; do
    if [[ $o == fixedbufs ]]; then
      case $2 in
        io_uring) args+=(--fixedbufs=1 --registerfiles=1 --hipri=0) ;;
        plugin) args+=(--faio_fixedbufs=1 --faio_registerfiles=1) ;;
      esac
    elif [[ $o == tuned ]]; then
      args+=(--fixedbufs=1 --registerfiles=1 --hipri=0 --iodepth_batch_submit=16
        --iodepth_batch_complete_min=8)
    else
      args+=("--$o")
    fi
  done
  printf '%s\n' "${args[@]}"
}
faio_args() { # OPTS
  local o args=()
  for o in $1; do
    if [[ $o == fixedbufs ]]; then
      args+=(--fixedbufs --registerfiles)
    elif [[ $o == tuned ]]; then
      : # faio bench runs untuned
    else
      args+=("--${o%%=*}" "${o#*=}")
    fi
  done
  printf '%s\n' "${args[@]}"
}

# User + system CPU seconds of a command timed by bash's `time` (TIMEFORMAT below).
TIMEFORMAT='cpu %3U %3S'
cpu_seconds() { awk '$1 == "cpu" { printf "%.3f", $2 + $3; found = 1 } END { if (!found) print "null" }' "$1" 2>/dev/null || echo null; }

common_fio=(--filename="$file" --size="$size_bytes" --time_based --runtime="$runtime"
  --ramp_time="$ramp" --invalidate=1)
common_faio=(--filename "$file" --size "$size_bytes" --time_based --runtime "$runtime"
  --ramp_time "$ramp")

run_fio() { # JOB LABEL KIND BACKEND ROUND LAT OPTS ENGINE-ARGS...
  local job=$1 label=$2 kind=$3 backend=$4 round=$5 lat=$6 opts=$7
  shift 7
  local base="$raw/$job.${label// /_}.r$round" rc=0
  local -a jargs
  mapfile -t jargs < <(fio_args "$opts" "$kind")
  { time fio --output-format=json --output="$base.json" --name="$job" "${common_fio[@]}" \
    "$@" "${jargs[@]}" >"$base.out" 2>"$base.err"; } 2>"$base.time" || rc=$?
  record "$job" "$label" "$kind" "$backend" "$round" "$lat" "$base.json" "$base.err" "$rc" \
    "$(cpu_seconds "$base.time")" "$fio_startup_cpu"
}

run_faio() { # JOB BACKEND ROUND LAT OPTS
  local job=$1 backend=$2 round=$3 lat=$4 opts=$5
  local label="faio $backend" base="$raw/$job.faio_$backend.r$round" rc=0
  local -a jargs
  mapfile -t jargs < <(faio_args "$opts")
  { time "$faio" bench --name "$job" "${common_faio[@]}" --backend "$backend" \
    --output-format json "${jargs[@]}" >"$base.json" 2>"$base.err"; } 2>"$base.time" || rc=$?
  record "$job" "$label" faio "$backend" "$round" "$lat" "$base.json" "$base.err" "$rc" \
    "$(cpu_seconds "$base.time")" "$faio_startup_cpu"
}

IFS=',' read -ra FIO_ENGINES <<<"$fio_engines"
IFS=',' read -ra FAIO_BACKENDS <<<"$faio_backends"
IFS=',' read -ra PLUGIN_BACKENDS <<<"$plugin_backends"
[[ -x $faio ]] || FAIO_BACKENDS=()
[[ $plugin != none ]] || PLUGIN_BACKENDS=()

# faio bench's --name is fio's; an older faio bench may not know it. Ask once.
if [[ -x $faio ]] && ! "$faio" bench --help 2>&1 | grep -q -- '--name'; then
  run_faio() {
    local job=$1 backend=$2 round=$3 lat=$4 opts=$5
    local label="faio $backend" base="$raw/$job.faio_$backend.r$round" rc=0
    local -a jargs
    mapfile -t jargs < <(faio_args "$opts")
    { time "$faio" bench "${common_faio[@]}" --backend "$backend" --output-format json \
      "${jargs[@]}" >"$base.json" 2>"$base.err"; } 2>"$base.time" || rc=$?
    record "$job" "$label" faio "$backend" "$round" "$lat" "$base.json" "$base.err" "$rc" \
      "$(cpu_seconds "$base.time")" "$faio_startup_cpu"
  }
fi

# Start-up and exit CPU of each tool: a 4 KiB read, median of 3, taken off the
# "proc" figures (fio forks a job process and sets up shared memory: a few
# tenths of a second of CPU on a small VM).
startup_cpu() { # COMMAND...
  local i t
  for i in 1 2 3; do
    { time "$@" >/dev/null 2>&1; } 2>"$raw/startup.time" || true
    cpu_seconds "$raw/startup.time"
    echo
  done | sort -n | sed -n 2p
}
fio_startup_cpu=$(startup_cpu fio --name=startup --filename="$file" --size=4096 --bs=4096 \
  --rw=read --ioengine=psync --output-format=json)
faio_startup_cpu=0
if [[ -x $faio ]]; then
  faio_startup_cpu=$(startup_cpu "$faio" bench --filename "$file" --size 4096 --bs 4096 \
    --rw read --time_based=0 --output-format json)
fi
[[ $fio_startup_cpu =~ ^[0-9.]+$ ]] || fio_startup_cpu=0
[[ $faio_startup_cpu =~ ^[0-9.]+$ ]] || faio_startup_cpu=0

nruns=0
for j in "${selected[@]}"; do
  IFS='|' read -r name _ _ opts <<<"$j"
  if [[ " $opts " == *" fixedbufs "* ]]; then
    nruns=$((nruns + 3))
  elif [[ " $opts " == *" tuned "* ]]; then
    nruns=$((nruns + 2))
  else
    nruns=$((nruns + ${#FIO_ENGINES[@]} + ${#PLUGIN_BACKENDS[@]} + ${#FAIO_BACKENDS[@]}))
  fi
done
say "$((nruns * rounds)) runs of ${runtime}s (+${ramp}s ramp): ${#selected[@]} jobs x $rounds rounds;" \
  "about $((nruns * rounds * (runtime + ramp + 1) / 60 + 1)) min. Raw results: $raw"

started=$SECONDS
for ((round = 1; round <= rounds; round++)); do
  for j in "${selected[@]}"; do
    IFS='|' read -r name desc lat opts <<<"$j"
    say "round $round/$rounds: $name"
    if [[ " $opts " == *" fixedbufs "* ]]; then
      # Registered buffers and files exist on io_uring only.
      run_fio "$name" "fio io_uring" io_uring io_uring "$round" "$lat" "$opts" --ioengine=io_uring
      if [[ $plugin != none ]]; then
        run_fio "$name" "fio+faio io_uring" plugin io_uring "$round" "$lat" "$opts" \
          --ioengine="external:$plugin" --faio_backend=io_uring
      fi
      [[ -x $faio ]] && run_faio "$name" io_uring "$round" "$lat" "$opts"
      continue
    fi
    if [[ " $opts " == *" tuned "* ]]; then
      run_fio "$name" "fio io_uring" io_uring io_uring "$round" "$lat" "$opts" --ioengine=io_uring
      [[ -x $faio ]] && run_faio "$name" io_uring "$round" "$lat" "$opts"
      continue
    fi
    for e in "${FIO_ENGINES[@]}"; do
      run_fio "$name" "fio $e" "$e" "$e" "$round" "$lat" "$opts" --ioengine="$e"
    done
    for b in "${PLUGIN_BACKENDS[@]}"; do
      run_fio "$name" "fio+faio $b" plugin "$b" "$round" "$lat" "$opts" \
        --ioengine="external:$plugin" --faio_backend="$b"
    done
    for b in "${FAIO_BACKENDS[@]}"; do
      run_faio "$name" "$b" "$round" "$lat" "$opts"
    done
  done
done
elapsed=$((SECONDS - started))

# ---- the report -------------------------------------------------------------------
job_meta=$(for j in "${selected[@]}"; do
  IFS='|' read -r name desc lat opts <<<"$j"
  jq -cn --arg name "$name" --arg desc "$desc" --arg lat "$lat" --arg opts "$opts" \
    '{name: $name, desc: $desc, lat: $lat, opts: $opts}'
done | jq -cs .)

fs_info=$(findmnt -n -o SOURCE,FSTYPE -T "$file" 2>/dev/null | tr -s ' ' || echo "?")
cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo "?")
faio_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
echo
echo "## fio vs faio: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Host: $(nproc) CPUs ($cpu_model), $(uname -sr), $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) >> 20)) GiB;" \
  "file $file ($((size_bytes >> 20)) MiB) on $fs_info. $(fio --version), faio $faio_rev."
echo "Medians of $rounds round(s) of ${runtime} s (after ${ramp} s ramp) per run; $elapsed s in all."
echo "IOPS and bandwidth count reads and writes; clat is the completion latency of the"
echo "job's main direction. CPU per I/O in microseconds: 'job' from the tool's JSON (the job"
echo "thread's getrusage, as fio reports it: helper threads not counted), 'proc' for the whole"
echo "process tree (every thread) less start-up and exit (fio ${fio_startup_cpu} s, faio bench"
echo "${faio_startup_cpu} s of CPU, measured on a 4 KiB job), over the I/Os scaled to ramp + runtime."
echo "Ratios are faio / fio: above 1 is better for IOPS, below 1 is better for clat and CPU."
echo "fio psync is synchronous: it runs at QD1 whatever the job's iodepth."

jq -rs --argjson jobs "$job_meta" '
def median: map(select(. != null)) | sort
  | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def num($d): if . == null then "n/a"
  elif $d == 0 then (. | round | tostring)
  else (. * pow(10; $d) | round) / pow(10; $d) | tostring end;
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def x: if . == null then "" elif . < 0.1 then (num(3) + "x") else (num(2) + "x") end;
def refof($b): {"io_uring": "fio io_uring", "linux_aio": "fio libaio",
                "posix_aio": "fio posixaio", "threads": "fio posixaio"}[$b];
. as $all
| ($all | group_by(.job + "\u0000" + .engine)
   | map({job: .[0].job, engine: .[0].engine, kind: .[0].kind, backend: .[0].backend,
          first: (.[0].round),
          ok: (map(select(.ok)) | length), runs: length,
          reason: (map(select(.ok | not) | .reason) | last),
          iops: (map(select(.ok) | .iops) | median),
          mibps: (map(select(.ok) | .mibps) | median),
          p50: (map(select(.ok) | .p50) | median),
          p99: (map(select(.ok) | .p99) | median),
          cpu_us: (map(select(.ok) | .cpu_us) | median),
          proc_us: (map(select(.ok) | .proc_us) | median)})) as $agg
| ($agg | map({key: (.job + "/" + .engine), value: .}) | from_entries) as $by
| ($jobs[] as $job
   | ($agg | map(select(.job == $job.name))) as $rows
      | "",
     "### \($job.desc) (`\($job.name)`)",
     "",
     "fio options: `\($job.opts)`; clat of \($job.lat)s.",
     "",
     "| engine | IOPS | MiB/s | clat p50 us | clat p99 us | CPU/IO job | CPU/IO proc | vs | IOPS | p50 | p99 | CPU job | CPU proc |",
     "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
     ( # fio rows first, then fio+faio, then faio bench, each in run order
       ($rows | sort_by((if .kind == "plugin" then 1 elif .kind == "faio" then 2 else 0 end), .first)
        | .[]) as $r
       | (if $r.kind == "plugin" or $r.kind == "faio" then $by[$job.name + "/" + refof($r.backend)]
          else null end) as $ref
       | if $r.ok == 0 then
           "| \($r.engine) | refused: \($r.reason | gsub("\\|"; "/")) | | | | | | | | | | | |"
         else
           "| \($r.engine)\(if $r.ok < $r.runs then " (\($r.ok)/\($r.runs) runs)" else "" end) | \($r.iops | num(0)) | \($r.mibps | num(1)) | \($r.p50 | num(1)) | \($r.p99 | num(1)) | \($r.cpu_us | num(2)) | \($r.proc_us | num(2)) | "
           + (if $ref != null and $ref.ok > 0 then
                "\($ref.engine) | \(ratio($r.iops; $ref.iops) | x) | \(ratio($r.p50; $ref.p50) | x) | \(ratio($r.p99; $ref.p99) | x) | \(ratio($r.cpu_us; $ref.cpu_us) | x) | \(ratio($r.proc_us; $ref.proc_us) | x) |"
              else " | | | | | |" end)
         end)),
  "",
  "### Targets (faio bench against fio, medians)",
  "",
  "| target | measured | result |",
  "|---|---|---|",
  ( def t($name; $job; $a; $b; $field; $want; $better):
      ($by[$job + "/" + $a]) as $fa | ($by[$job + "/" + $b]) as $fi
      | if $fa == null or $fi == null or $fa.ok == 0 or $fi.ok == 0
          or $fa[$field] == null or $fi[$field] == null then
          "| \($name) | not measured (\(if $fa == null or $fa.ok == 0 then $a else $b end) has no result) | n/a |"
        else (ratio($fa[$field]; $fi[$field])) as $q
          | "| \($name) | \($fa[$field] | num(2)) vs \($fi[$field] | num(2)) = \($q | num(3))x | "
            + (if ($better == "higher" and $q >= $want) or ($better == "lower" and $q <= $want)
               then "met" else "MISSED by \((if $better == "higher" then ($want - $q) / $want
                                            else ($q - $want) / $want end) * 100 | num(1))%" end) + " |"
        end;
    t("4K randread QD32: faio io_uring IOPS >= 1.15x fio io_uring"; "randread-qd32"; "faio io_uring"; "fio io_uring"; "iops"; 1.15; "higher"),
    t("registered buffers+files: faio io_uring IOPS >= 1.0x fio io_uring"; "randread-qd32-fixed"; "faio io_uring"; "fio io_uring"; "iops"; 1.0; "higher"),
    t("untuned faio io_uring IOPS >= tuned fio io_uring"; "randread-qd32-tuned"; "faio io_uring"; "fio io_uring"; "iops"; 1.0; "higher"),
    t("untuned faio io_uring CPU per I/O (job) <= 0.9x tuned fio"; "randread-qd32-tuned"; "faio io_uring"; "fio io_uring"; "cpu_us"; 0.9; "lower"),
    t("untuned faio io_uring CPU per I/O (process) <= 0.9x tuned fio"; "randread-qd32-tuned"; "faio io_uring"; "fio io_uring"; "proc_us"; 0.9; "lower"),
    t("4K randread QD32: CPU per I/O (job thread) below fio io_uring"; "randread-qd32"; "faio io_uring"; "fio io_uring"; "cpu_us"; 1.0; "lower"),
    t("4K randread QD32: CPU per I/O (process) below fio io_uring"; "randread-qd32"; "faio io_uring"; "fio io_uring"; "proc_us"; 1.0; "lower"),
    t("4K randread QD1: clat p50 no worse than fio io_uring"; "randread-qd1"; "faio io_uring"; "fio io_uring"; "p50"; 1.0; "lower"),
    t("4K randread QD1: clat p99 no worse than fio io_uring"; "randread-qd1"; "faio io_uring"; "fio io_uring"; "p99"; 1.0; "lower"),
    t("1 MiB seq read QD8: faio io_uring bandwidth >= 0.95x fio io_uring"; "seqread-1m-qd8"; "faio io_uring"; "fio io_uring"; "mibps"; 0.95; "higher"),
    t("4K randread QD32: faio threads IOPS >= 3x fio posixaio"; "randread-qd32"; "faio threads"; "fio posixaio"; "iops"; 3.0; "higher"),
    t("4K randread QD32: faio linux_aio IOPS >= fio libaio"; "randread-qd32"; "faio linux_aio"; "fio libaio"; "iops"; 1.0; "higher"))
' "$results"

if ((failures)); then
  echo
  echo "$failures run(s) failed or were refused; the tools' messages are in the tables above."
fi
if ((keep_raw)); then say "raw results kept in $raw"; fi
if ((strict && failures)); then exit 1; fi
exit 0
