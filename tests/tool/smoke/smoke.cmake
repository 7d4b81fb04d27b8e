# smoke.cmake - runs the faio program the way a user does and checks what it
# prints; the same checks on every host (under Wine for the Windows build).
#
#   cmake -DFAIO=<faio program> [-DEMULATOR=<wine>] -DMODE=<mode> -DBACKEND=<name>
#         [-DAUTO=<the backend auto must pick>] -P smoke.cmake
#
# Run in an empty working directory (ctest gives each test its own); TMPDIR is
# "." so the temporary files of faio bench are made there, and the directory
# must be empty again at the end.
#
# MODE:
#   info          faio info .: every section, the backend auto picks, the
#                 direct-I/O probe (its probe file removed)
#   bench-temp    randrw with fsync on a temporary file: every byte of --size
#                 moved, the flushes counted, the file gone afterwards
#   bench-file    --filename: a missing file laid out and written, kept at its
#                 size, then read once whole as an existing file (no --size)
#   bench-direct  randread with --direct 1 (O_DIRECT / FILE_FLAG_NO_BUFFERING)
#   usage         a bad option value: exit status 2 and the option named
cmake_minimum_required(VERSION 3.19)  # string(JSON)

foreach(_var FAIO MODE BACKEND)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "smoke.cmake: -D${_var}=... is required")
  endif()
endforeach()
set(ENV{TMPDIR} ".")
set(ENV{FAIO_BACKEND} "")

# faio(ARGS...) runs the program; sets rc, out, err in the caller.
function(faio)
  execute_process(COMMAND ${EMULATOR} ${FAIO} ${ARGN}
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  set(rc "${_rc}" PARENT_SCOPE)
  set(out "${_out}" PARENT_SCOPE)
  set(err "${_err}" PARENT_SCOPE)
  message(STATUS "faio ${ARGN}: exit ${_rc}")
endfunction()

function(fail what)
  message(FATAL_ERROR "smoke ${MODE}/${BACKEND}: ${what}\n--- stdout:\n${out}\n--- stderr:\n${err}")
endfunction()

function(expect_rc want)
  if(NOT rc STREQUAL "${want}")
    fail("exit status ${rc}, expected ${want}")
  endif()
endfunction()

function(expect_match regex)
  if(NOT out MATCHES "${regex}")
    fail("stdout does not match '${regex}'")
  endif()
endfunction()

# json_get(VAR path...) reads one member of the bench's JSON document (in out).
function(json_get var)
  string(JSON _v ERROR_VARIABLE _e GET "${out}" ${ARGN})
  if(_e)
    fail("JSON: ${ARGN}: ${_e}")
  endif()
  set(${var} "${_v}" PARENT_SCOPE)
endfunction()

function(expect_eq what got want)
  if(NOT "${got}" STREQUAL "${want}")
    fail("${what} is ${got}, expected ${want}")
  endif()
endfunction()

# check_job(BYTES) checks the common part of a bench JSON document: no error,
# the backend asked for, BYTES moved in all, in whole blocks, none short.
function(check_job bytes bs)
  json_get(error jobs 0 error)
  expect_eq("jobs[0].error" "${error}" 0)
  json_get(first_error jobs 0 faio first_error)
  expect_eq("faio.first_error" "${first_error}" "")
  json_get(backend jobs 0 faio backend)
  if(BACKEND STREQUAL "auto")
    if(DEFINED AUTO)
      expect_eq("faio.backend" "${backend}" "${AUTO}")
    endif()
  else()
    expect_eq("faio.backend" "${backend}" "${BACKEND}")
  endif()
  set(total 0)
  set(ios 0)
  foreach(dir read write)
    json_get(b jobs 0 ${dir} io_bytes)
    json_get(n jobs 0 ${dir} total_ios)
    json_get(s jobs 0 ${dir} short_ios)
    expect_eq("${dir}.short_ios" "${s}" 0)
    math(EXPR total "${total} + ${b}")
    math(EXPR ios "${ios} + ${n}")
  endforeach()
  expect_eq("read+write io_bytes" "${total}" "${bytes}")
  math(EXPR want_ios "${bytes} / ${bs}")
  expect_eq("read+write total_ios" "${ios}" "${want_ios}")
endfunction()

function(expect_empty_dir)
  file(GLOB left RELATIVE "${CMAKE_CURRENT_BINARY_DIR}" "*" ".*")
  list(FILTER left EXCLUDE REGEX "^\\.\\.?$")
  if(left)
    fail("left behind in the working directory: ${left}")
  endif()
endfunction()

if(MODE STREQUAL "info")
  faio(info .)
  expect_rc(0)
  expect_match("faio [0-9]+\\.[0-9]+\\.[0-9]+ \\(headers ")
  expect_match("backends \\(compiled in, in the order auto tries them\\):\n")
  expect_match("\n  threads +available\n")
  expect_match("\nlimits: max_requests=")
  expect_match("\ndirect I/O on \\. \\(probe file, removed\\) \\([^)]+\\):\n  alignment: ")
  expect_match("\n  (O_DIRECT|FILE_FLAG_NO_BUFFERING): (accepted|refused)")
  if(DEFINED AUTO)
    expect_match("\nauto picks: ${AUTO}\n")
    expect_match("\n  ${AUTO} +available\n")
  else()
    expect_match("\nauto picks: [a-z_]+\n")
  endif()
  expect_empty_dir()
elseif(MODE STREQUAL "bench-temp")
  faio(bench --backend ${BACKEND} --rw randrw --size 4M --bs 4k --iodepth 8 --fsync 8
       --output-format json)
  expect_rc(0)
  check_job(4194304 4096)
  json_get(temporary jobs 0 faio temporary)
  expect_eq("faio.temporary" "${temporary}" ON)
  # fio's fsync=8: a flush after every 8th write.
  json_get(writes jobs 0 write total_ios)
  json_get(syncs jobs 0 sync total_ios)
  math(EXPR want_syncs "${writes} / 8")
  if(syncs LESS want_syncs)
    fail("sync.total_ios ${syncs} for ${writes} writes with --fsync 8")
  endif()
  expect_empty_dir()
elseif(MODE STREQUAL "bench-file")
  faio(bench --backend ${BACKEND} --filename smoke.dat --rw write --size 2M --bs 64k
       --iodepth 4 --output-format json)
  expect_rc(0)
  check_job(2097152 65536)
  file(SIZE smoke.dat size)
  expect_eq("the size of smoke.dat" "${size}" 2097152)
  # No --size: the whole existing file, once (--time_based 0), as fio does.
  faio(bench --backend ${BACKEND} --filename smoke.dat --rw read --bs 64k --iodepth 4
       --time_based 0 --output-format json)
  expect_rc(0)
  check_job(2097152 65536)
  json_get(temporary jobs 0 faio temporary)
  expect_eq("faio.temporary" "${temporary}" OFF)
  json_get(file_size jobs 0 faio file_size)
  expect_eq("faio.file_size" "${file_size}" 2097152)
  file(REMOVE smoke.dat)
  expect_empty_dir()
elseif(MODE STREQUAL "bench-direct")
  faio(bench --backend ${BACKEND} --rw randread --direct 1 --size 4M --bs 4k --iodepth 16
       --output-format json)
  if(rc EQUAL 2 AND err MATCHES "does not support O_DIRECT")
    message(STATUS "skipped: this file system refuses O_DIRECT (tmpfs?)")
    return()
  endif()
  expect_rc(0)
  check_job(4194304 4096)
  json_get(direct jobs 0 "job options" direct)
  expect_eq("job options.direct" "${direct}" 1)
  expect_empty_dir()
elseif(MODE STREQUAL "usage")
  faio(bench --backend ${BACKEND} --bs 3x)
  expect_rc(2)
  if(NOT err MATCHES "--bs")
    fail("the message does not name --bs")
  endif()
  faio(bench --backend no_such_backend)
  expect_rc(2)
  if(NOT err MATCHES "unknown backend")
    fail("the message does not say 'unknown backend'")
  endif()
else()
  message(FATAL_ERROR "smoke.cmake: unknown MODE ${MODE}")
endif()
