# CMake toolchain file: cross-compile for 64-bit Windows with mingw-w64 and run
# what was built (tests, try_run) under Wine.
#
#   cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#
# Debian: apt-get install g++-mingw-w64-x86-64 wine64 wine. The "-posix" compiler
# variant is the one with std::thread and std::mutex (winpthreads); the "-win32"
# variant lacks them. Everything is linked statically (libgcc, libstdc++,
# winpthreads), so the .exe files run under Wine without mingw DLLs on its path.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_faio_mingw x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_faio_mingw}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_faio_mingw}-g++-posix)
set(CMAKE_RC_COMPILER ${_faio_mingw}-windres)
set(CMAKE_AR ${_faio_mingw}-gcc-ar-posix CACHE FILEPATH "")
set(CMAKE_RANLIB ${_faio_mingw}-gcc-ranlib-posix CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH /usr/${_faio_mingw})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static: no libgcc_s/libstdc++/libwinpthread DLLs needed at run time.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

# Tests and gtest_discover_tests run the .exe files through Wine.
find_program(FAIO_WINE NAMES wine wine64)
if(FAIO_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FAIO_WINE})
endif()
