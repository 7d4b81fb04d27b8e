#!/usr/bin/env bash
# bootstrap.sh - install faio's build dependencies and build it into build/.
#
# On Debian/Ubuntu it installs the packages of scripts/debian-packages.txt that
# are missing (as root directly, else through sudo when there is one), then
# fetches and configures fio's source for the fio engine (scripts/fio-source.sh),
# and configures and builds everything (library, faio tool, benchmarks, fio
# engine, tests) into build/ next to this script's parent. Run it again at any time: it only
# installs what is missing and rebuilds what changed.
#   BUILD_TYPE=Debug scripts/bootstrap.sh     (default: Release)
#   extra cmake arguments: scripts/bootstrap.sh -DFAIO_WERROR=ON
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mapfile -t packages < <(sed 's/#.*//' "$root/scripts/debian-packages.txt" | tr -s '[:space:]' '\n' | sed '/^$/d')

if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
  missing=()
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -eq 0 ]]; then
      as_root=()
    elif command -v sudo >/dev/null; then
      as_root=(sudo)
    else
      echo "bootstrap: missing packages and not root (no sudo either): ${missing[*]}" >&2
      exit 1
    fi
    echo "bootstrap: installing ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
else
  echo "bootstrap: not a Debian-like host; install the equivalents of" \
    "scripts/debian-packages.txt yourself. Building anyway." >&2
fi

# The fio engine (bench/fio_engine) is built against the configured source of the
# installed fio; fetching it needs apt's deb-src entry (added as root). Without it
# the engine and its test are left out, and the build says so.
fio_args=()
mkdir -p "$root/build"
if fio_src=$("$root/scripts/fio-source.sh" "$root/build/fio-src" 2>"$root/build/fio-source.log"); then
  fio_args=(-DFAIO_FIO_SOURCE_DIR="$fio_src")
else
  echo "bootstrap: fio's source is not available (see build/fio-source.log);" \
    "building without the fio engine" >&2
fi

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${fio_args[@]}" "$@"
cmake --build "$root/build" -j"$(nproc 2>/dev/null || echo 2)"
echo "bootstrap: built into $root/build (tool: $root/build/tools/faio/faio)"
