#!/usr/bin/env bash
# run.sh PREFIX - prove that an installed faio can be consumed.
#
# (a) builds tests/install (main.c, plus the README's examples/hello.c and
#     examples/hello.cc) with CMake through find_package(faio) against PREFIX,
#     and runs the programs;
# (b) builds the same sources with the plain compiler driver and
#     `pkg-config --cflags --libs --static faio` (PKG_CONFIG_PATH pointing into
#     PREFIX), and runs them;
# (c) runs PREFIX/bin/faio --version when the tool was installed.
# It also checks that the examples quoted in README.md are these files.
# Exits non-zero at the first failure.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 PREFIX   (a directory that 'cmake --install build --prefix' filled)" >&2
  exit 2
fi
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/faio-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n== install test: %s\n' "$*"; }
# run PROGRAM: run one of the built programs; a hang is a failure too.
run() {
  echo "+ ${1##*/}"
  timeout 60 "$@"
}

# The library directory is lib, lib64 or lib/<multiarch> depending on the
# platform and on CMAKE_INSTALL_LIBDIR: find it by its faio.pc.
pc=$(find "$prefix" -path '*/pkgconfig/faio.pc' -print -quit)
if [[ -z $pc ]]; then
  echo "no faio.pc under $prefix" >&2
  exit 1
fi
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
# A shared build needs its library found at run time; harmless for a static one.
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

step "the README's examples are examples/hello.c and examples/hello.cc"
for f in hello.c hello.cc; do
  awk -v marker="<!-- examples/$f -->" '
    $0 == marker { grab = 1; next }
    grab && /^```/ { if (inside) exit; inside = 1; next }
    grab && inside { print }' "$root/README.md" >"$work/readme-$f"
  diff -u "$root/examples/$f" "$work/readme-$f"
  echo "README.md: $f is identical to examples/$f"
done

step "find_package(faio) against $prefix"
cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DFAIO_EXAMPLES_DIR="$root/examples" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/cmake" -j2
run "$work/cmake/consumer"
run "$work/cmake/hello_c"
run "$work/cmake/hello_cxx"
run "$work/cmake/epoll_loop"
if pkg-config --exists libuv; then run "$work/cmake/uv_loop"; fi
run "$work/cmake/co_copy"
if [[ -x $work/cmake/asio_loop ]]; then run "$work/cmake/asio_loop"; fi

step "pkg-config --static faio (PKG_CONFIG_PATH=$pcdir)"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists --print-errors faio
pc_prefix=$(pkg-config --variable=prefix faio)
if [[ ! $pc_prefix -ef $prefix ]]; then
  echo "faio.pc says prefix=$pc_prefix, but the package was installed under $prefix:" >&2
  echo "faio.pc is not relocatable ('cmake --install --prefix' does not rewrite it)." >&2
  echo "cmake/faio.pc.in should derive the prefix from its own place, e.g." >&2
  echo "  prefix=\${pcfiledir}/<relative path from the pkgconfig dir to the prefix>" >&2
  exit 1
fi
echo "faio $(pkg-config --modversion faio): cflags: $(pkg-config --cflags faio)"
echo "  static libs: $(pkg-config --libs --static faio)"
# shellcheck disable=SC2046  # word splitting of pkg-config's output is the point
cc -std=c99 -Wall -Wextra -Werror -o "$work/consumer_pc" "$here/main.c" \
  $(pkg-config --cflags --libs --static faio)
run "$work/consumer_pc"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror -o "$work/hello_c_pc" "$root/examples/hello.c" \
  $(pkg-config --cflags --libs --static faio)
run "$work/hello_c_pc"
# shellcheck disable=SC2046
c++ -std=c++20 -Wall -Wextra -Werror -o "$work/hello_cxx_pc" "$root/examples/hello.cc" \
  $(pkg-config --cflags --libs --static faio)
run "$work/hello_cxx_pc"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror -o "$work/epoll_loop_pc" "$root/examples/epoll_loop.c" \
  $(pkg-config --cflags --libs --static faio) -lpthread
run "$work/epoll_loop_pc"
# shellcheck disable=SC2046
c++ -std=c++20 -Wall -Wextra -Werror -o "$work/co_copy_pc" "$root/examples/co_copy.cc" \
  $(pkg-config --cflags --libs --static faio)
run "$work/co_copy_pc"

if [[ -x $prefix/bin/faio ]]; then
  step "installed tool"
  "$prefix/bin/faio" --version
fi

printf '\n== install test: passed (%s)\n' "$prefix"
