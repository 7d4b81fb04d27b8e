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
#   info          faio info .: every section (what a context costs too), the backend auto picks, the
#                 direct-I/O probe (its probe file removed)
#   bench-temp    randrw with fsync on a temporary file: every byte of --size
#                 moved, the flushes counted, the file gone afterwards
#   bench-file    --filename: a missing file laid out and written, kept at its
#                 size, then read once whole as an existing file (no --size)
#   bench-direct  randread with --direct 1 (O_DIRECT / FILE_FLAG_NO_BUFFERING)
#   usage         a bad option value: exit status 2 and the option named
#   verify        faio verify writes and checks a file (every block good), then
#                 checks it again with a hole punched in it (the hole's blocks
#                 lost) and with a byte corrupted (that block corrupted): the
#                 exit statuses, the JSON counts and lists, the normal output
#   cp            faio cp --verify of a sparse file with a corrupted block:
#                 identical copy, holes kept where the host can tell them,
#                 the copy's verify verdicts those of the source; --no-clobber
#
# FILES is faio_smoke_files (punches holes, corrupts bytes, tells a file's
# allocated size). Under Wine, which implements no sparse-file FSCTL, a hole is
# punched with the build host's fallocate instead: the file is sparse on the
# disk all the same, and faio cp there copies it as one extent.
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

# files(ARGS...) runs faio_smoke_files; sets files_rc and files_out.
function(files)
  execute_process(COMMAND ${EMULATOR} ${FILES} ${ARGN}
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  set(files_rc "${_rc}" PARENT_SCOPE)
  set(files_out "${_out}" PARENT_SCOPE)
  if(NOT _rc EQUAL 0 AND NOT _rc EQUAL 3)
    fail("faio_smoke_files ${ARGN}: exit ${_rc}: ${_err}")
  endif()
endfunction()

# punch(PATH OFFSET LENGTH) makes [OFFSET, +LENGTH) of PATH a hole: through the
# host's calls, or (exit 3: the host cannot) the build host's fallocate.
function(punch path off len)
  files(punch ${path} ${off} ${len})
  if(files_rc EQUAL 0)
    return()
  endif()
  find_program(_fallocate fallocate)
  if(NOT _fallocate)
    fail("cannot punch a hole in ${path}: the host cannot and there is no fallocate")
  endif()
  execute_process(COMMAND ${_fallocate} --punch-hole --offset ${off} --length ${len} ${path}
                  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    fail("fallocate --punch-hole ${path}: ${_err}")
  endif()
endfunction()

# allocated(VAR PATH) sets VAR to the bytes of PATH on the disk.
function(allocated var path)
  files(allocated ${path})
  if(NOT files_out MATCHES "allocated ([0-9]+) size")
    fail("faio_smoke_files allocated ${path}: ${files_out}")
  endif()
  set(${var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

# expect_verdicts(GOOD LOST CORRUPTED) checks faio verify's JSON report (in
# out): the counts of every kind, and the bad-block total.
function(expect_verdicts good lost corrupted)
  json_get(g good)
  expect_eq("good" "${g}" "${good}")
  json_get(l counts lost)
  expect_eq("counts.lost" "${l}" "${lost}")
  json_get(c counts corrupted)
  expect_eq("counts.corrupted" "${c}" "${corrupted}")
  foreach(kind misdirected stale mismatch unreadable)
    json_get(n counts ${kind})
    expect_eq("counts.${kind}" "${n}" 0)
  endforeach()
  math(EXPR bad "${lost} + ${corrupted}")
  json_get(b bad)
  expect_eq("bad" "${b}" "${bad}")
  string(JSON listed ERROR_VARIABLE _e LENGTH "${out}" bad_blocks)
  if(_e)
    fail("JSON: bad_blocks: ${_e}")
  endif()
  expect_eq("bad_blocks length" "${listed}" "${bad}")
  if(BACKEND STREQUAL "auto")
    if(DEFINED AUTO)
      json_get(backend backend)
      expect_eq("backend" "${backend}" "${AUTO}")
    endif()
  else()
    json_get(backend backend)
    expect_eq("backend" "${backend}" "${BACKEND}")
  endif()
endfunction()

# check_verify(FILE RC GOOD LOST CORRUPTED) runs faio verify --verify_only on
# FILE (4 KiB blocks) and checks its exit status and verdicts.
function(check_verify file want_rc good lost corrupted)
  faio(verify ${file} --verify_only --bs 4k --backend ${BACKEND} --output-format json)
  expect_rc(${want_rc})
  expect_verdicts(${good} ${lost} ${corrupted})
  set(out "${out}" PARENT_SCOPE)
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
  expect_match("\none context costs \\(docs/backends.md, \"What a context costs\"\\):\n")
  expect_match("\n  threads +no descriptor, no thread \\(the process's one pool of workers\\)\n")
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
elseif(MODE STREQUAL "verify")
  # 1 MiB of 4 KiB blocks, written and checked: all good, exit 0.
  faio(verify v.dat --size 1M --bs 4k --backend ${BACKEND} --output-format json)
  expect_rc(0)
  expect_verdicts(256 0 0)
  json_get(mode mode)
  expect_eq("mode" "${mode}" "write_and_verify")
  json_get(created created)
  expect_eq("created" "${created}" ON)
  # A sparse file: the hole's 64 blocks read as zeros, lost; exit 1.
  punch(v.dat 262144 262144)
  check_verify(v.dat 1 192 64 0)
  json_get(off bad_blocks 0 offset)
  expect_eq("bad_blocks[0].offset" "${off}" 262144)
  json_get(kind bad_blocks 0 kind)
  expect_eq("bad_blocks[0].kind" "${kind}" "lost")
  # One byte flipped in block 2: that block alone is corrupted.
  files(corrupt v.dat 8292)
  check_verify(v.dat 1 191 64 1)
  json_get(off bad_blocks 0 offset)
  expect_eq("bad_blocks[0].offset" "${off}" 8192)
  json_get(kind bad_blocks 0 kind)
  expect_eq("bad_blocks[0].kind" "${kind}" "corrupted")
  json_get(detail bad_blocks 0 detail)
  if(NOT detail MATCHES "^crc32c mismatch: stored 0x[0-9a-f]+, computed 0x[0-9a-f]+$")
    fail("bad_blocks[0].detail: ${detail}")
  endif()
  # The normal output says the same.
  faio(verify v.dat --verify_only --bs 4k --backend ${BACKEND})
  expect_rc(1)
  expect_match("checked 256 blocks in [0-9.]+ s \\([0-9.]+ MiB/s\\): 191 good, 65 bad\n")
  expect_match("\n  lost: +64\n")
  expect_match("\n  corrupted: +1\n")
  expect_match("\n    offset 8192 \\(block 2\\): corrupted: crc32c mismatch")
  # Bad options: exit 2.
  faio(verify v.dat --verify_only --bs 16 --backend ${BACKEND})
  expect_rc(2)
  file(REMOVE v.dat)
  expect_empty_dir()
elseif(MODE STREQUAL "cp")
  # SRC: 1 MiB of verify blocks with a 256 KiB hole and a corrupted block.
  faio(verify src.dat --size 1M --bs 4k --backend ${BACKEND} --output-format json)
  expect_rc(0)
  punch(src.dat 262144 262144)
  files(corrupt src.dat 8292)
  faio(cp --verify --backend ${BACKEND} src.dat dst.dat)
  expect_rc(0)
  expect_match("^src\\.dat -> dst\\.dat: 1048576 bytes \\(1\\.00 MiB\\) in [0-9.]+ s")
  expect_match("\n  verified: identical \\(1\\.00 MiB compared in [0-9.]+ s\\)\n")
  file(SHA256 src.dat src_sum)
  file(SHA256 dst.dat dst_sum)
  expect_eq("the SHA-256 of dst.dat" "${dst_sum}" "${src_sum}")
  # Holes stay holes where the host reports them (SEEK_DATA/SEEK_HOLE,
  # FSCTL_QUERY_ALLOCATED_RANGES; Wine has no such FSCTL: one extent there).
  allocated(src_alloc src.dat)
  if(out MATCHES "\n  data: ([0-9]+) bytes in ([0-9]+) extent\\(s\\); the ([0-9]+) bytes of holes stay holes\n")
    expect_eq("data bytes" "${CMAKE_MATCH_1}" 786432)
    expect_eq("extents" "${CMAKE_MATCH_2}" 2)
    allocated(dst_alloc dst.dat)
    if(NOT dst_alloc LESS 1048576)
      fail("dst.dat takes ${dst_alloc} bytes: its hole was filled")
    endif()
  elseif(NOT WIN32_BUILD AND src_alloc LESS 1048576)
    fail("src.dat is sparse (${src_alloc} bytes on the disk) but cp found no hole")
  endif()
  # The copy gets the same verdicts as its source.
  check_verify(dst.dat 1 191 64 1)
  # --no-clobber: DST stays, exit 1.
  faio(cp --no-clobber --backend ${BACKEND} src.dat dst.dat)
  expect_rc(1)
  if(NOT err MATCHES "exists \\(--no-clobber")
    fail("cp --no-clobber: the message does not say that DST exists")
  endif()
  # A missing SRC: exit 1, DST untouched.
  faio(cp --backend ${BACKEND} missing.dat dst.dat)
  expect_rc(1)
  file(SHA256 dst.dat dst_sum)
  expect_eq("the SHA-256 of dst.dat after a failed cp" "${dst_sum}" "${src_sum}")
  file(REMOVE src.dat dst.dat)
  expect_empty_dir()
else()
  message(FATAL_ERROR "smoke.cmake: unknown MODE ${MODE}")
endif()
