# CMake toolchain file: cross-compile for FreeBSD 14 (amd64) with clang against a
# sysroot of FreeBSD headers (FREEBSD_SYSROOT). Compile/archive only.
set(CMAKE_SYSTEM_NAME FreeBSD)
set(CMAKE_SYSTEM_VERSION 14.2)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_SYSROOT $ENV{FREEBSD_SYSROOT})
set(CMAKE_C_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET x86_64-unknown-freebsd14.2)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_CXX_COMPILER_TARGET x86_64-unknown-freebsd14.2)
set(CMAKE_CXX_FLAGS_INIT "-Wno-unused-command-line-argument -stdlib=libc++ -nostdinc++ -isystem /usr/lib/llvm-14/include/c++/v1")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld")
# Nothing can link without FreeBSD's libraries: check compilers with a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
