#!/usr/bin/env bash
# fio-source.sh DIR - fetch and configure the source of the installed fio.
#
# The faio fio engine (bench/fio_engine) is compiled against fio's own headers,
# which no binary package ships. This script fetches the Debian source package of
# exactly the fio version installed here (`apt-get source fio=VERSION`) into DIR,
# runs fio's ./configure there (with the options of Debian's own build) so that
# config-host.h exists, and prints the path of the configured source tree on
# stdout; everything else goes to stderr. Give that path to CMake:
#
#   cmake -S . -B build -DFAIO_FIO_SOURCE_DIR="$(scripts/fio-source.sh /var/tmp/fio-src)"
#
# Needs: Debian or a derivative, fio installed, dpkg-dev (dpkg-source unpacks the
# package). When apt knows no deb-src entry for the archive the installed fio came
# from, the script adds one (/etc/apt/sources.list.d/faio-deb-src.sources, the deb
# entries' URIs and suites with Types: deb-src) and runs apt-get update; that needs
# root. Running it again is cheap: a DIR that holds the configured tree already is
# reused as it is.
set -euo pipefail

die() { echo "fio-source.sh: $*" >&2; exit 1; }
say() { echo "fio-source.sh: $*" >&2; }

[[ $# -eq 1 && -n $1 && $1 != -* ]] || die "usage: fio-source.sh DIR (where to put fio's source)"
command -v fio >/dev/null || die "fio is not installed (apt-get install fio)"
command -v dpkg-query >/dev/null && command -v apt-get >/dev/null ||
  die "not a Debian-like host (no dpkg-query/apt-get); fetch fio's source of" \
    "version $(fio --version) yourself and run its ./configure"
command -v dpkg-source >/dev/null || die "dpkg-source is missing (apt-get install dpkg-dev)"

# The installed binary package, its source package and version (they may differ
# from the binary's after a binNMU: apt-get source wants the source's).
read -r src_pkg src_ver < <(dpkg-query -W -f='${source:Package} ${source:Version}\n' fio 2>/dev/null) ||
  die "dpkg does not know the fio package (fio not installed from a .deb?)"
[[ -n $src_pkg && -n $src_ver ]] || die "cannot tell the source package of fio"
upstream=${src_ver#*:}         # drop an epoch
upstream=${upstream%-*}        # drop the Debian revision
# The binary must be the version whose headers we fetch: the engine interface
# (FIO_IOOPS_VERSION, struct layouts) changes between fio releases.
binver=$(fio --version)
[[ $binver == "fio-$upstream" || $binver == "fio-${upstream%%+*}" ]] ||
  die "the fio on PATH says '$binver' but the package is $src_pkg $src_ver"

mkdir -p "$1"
dir=$(cd "$1" && pwd)
tree="$dir/$src_pkg-${upstream%%+*}"
stamp="$tree/.faio-configured-$src_ver"

if [[ -f $stamp && -f $tree/config-host.h && -f $tree/ioengines.h ]]; then
  say "reusing $tree ($src_pkg $src_ver, configured)"
  echo "$tree"
  exit 0
fi

# Is a deb-src entry there? --print-uris asks apt without downloading anything.
have_src() { (cd "$dir" && apt-get source -q --print-uris "$src_pkg=$src_ver" >/dev/null 2>&1); }
if ! have_src; then
  [[ $(id -u) -eq 0 ]] ||
    die "apt has no deb-src entry for $src_pkg $src_ver; add one (as root) or run this as root"
  list=/etc/apt/sources.list.d/faio-deb-src.sources
  say "no deb-src entry for $src_pkg $src_ver: writing $list"
  # deb822 .sources files: copy each stanza whose Types include 'deb', as deb-src.
  # One-line sources.list entries: 'deb ...' lines become 'deb-src ...'.
  tmp=$(mktemp)
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f && $f != "$list" ]] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ && !/Enabled: *no/ {
           gsub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f" >>"$tmp"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -n 's/^[[:space:]]*deb[[:space:]]\+/deb-src /p' "$f" >>"${tmp}.list"
  done
  if [[ -s $tmp ]]; then
    install -m 0644 "$tmp" "$list"
  elif [[ -s ${tmp}.list ]]; then
    list=/etc/apt/sources.list.d/faio-deb-src.list
    install -m 0644 "${tmp}.list" "$list"
  fi
  rm -f "$tmp" "${tmp}.list"
  [[ -f $list ]] || die "found no deb entries to derive a deb-src entry from"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  have_src || die "apt still finds no source for $src_pkg=$src_ver (see $list)"
fi

say "fetching $src_pkg $src_ver into $dir"
rm -rf "$tree"
(cd "$dir" && apt-get source -q "$src_pkg=$src_ver" >&2)
[[ -f $tree/ioengines.h ]] || die "apt-get source did not unpack $tree"

# Debian's rules run './configure --disable-native --prefix=/usr' (plus GUI and
# libnbd switches that only add programs and engines). The options that change
# structures an engine sees are the AIO ones, and configure finds libaio as the
# package build did when libaio-dev is installed (it is one of faio's
# dependencies).
say "configuring $tree (log: $tree/faio-configure.log)"
(cd "$tree" && ./configure --disable-native --prefix=/usr >faio-configure.log 2>&1) ||
  die "fio's ./configure failed; see $tree/faio-configure.log"
[[ -f $tree/config-host.h ]] || die "fio's ./configure wrote no config-host.h"
touch "$stamp"
echo "$tree"
