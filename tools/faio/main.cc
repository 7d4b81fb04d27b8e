// main.cc - the faio command-line tool: `faio info` and `faio bench`.
//
// It uses faio's public API only (<faio/faio.hpp>, <faio/faio.h>), like any
// other program would.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "bench.h"
#include "common.h"
#include "info.h"

int main(int argc, char** argv) {
  using faio::tool::BenchArgs;
  CLI::App app{"faio: asynchronous file I/O -- host report and read benchmark", "faio"};
  app.set_version_flag("--version", faio::tool::VersionString());
  app.require_subcommand(1);

  std::string info_path = ".";
  CLI::App* info = app.add_subcommand(
      "info",
      "Print the library version, the compiled-in backends (available or why not), the "
      "limits, the backend auto picks, and the direct-I/O alignment of PATH.");
  info->add_option("PATH", info_path,
                   "file, block device or directory (a probe file is created and removed)")
      ->capture_default_str();

  BenchArgs b;
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Run a fio-like read job through faio: --iodepth reads in flight for --runtime "
      "seconds; prints IOPS, bandwidth and latency.");
  bench
      ->add_option("--filename", b.filename,
                   "file or block device to read; a missing file is created with --size "
                   "and kept (default: a temporary file in $TMPDIR or /var/tmp, removed)")
      ->type_name("PATH");
  CLI::Option* size_opt =
      bench->add_option("--size", b.size, "bytes to lay out / read (k, M, G: binary units)")
          ->type_name("SIZE")
          ->capture_default_str();
  bench->add_option("--bs", b.bs, "block size of each read")
      ->type_name("SIZE")
      ->capture_default_str();
  bench->add_option("--iodepth", b.iodepth, "reads kept in flight")
      ->type_name("N")
      ->capture_default_str();
  bench->add_option("--runtime", b.runtime, "seconds to run (5, 10s, 500ms, 2m)")
      ->type_name("TIME")
      ->capture_default_str();
  bench
      ->add_option("--backend", b.backend,
                   "auto, io_uring, threads, ... (auto honours FAIO_BACKEND)")
      ->type_name("NAME")
      ->capture_default_str();
  bench->add_option("--direct", b.direct, "1: O_DIRECT, bypassing the page cache")
      ->type_name("0|1")
      ->capture_default_str();
  bench->add_option("--rw", b.rw, "randread or read (writes: later)")
      ->type_name("KIND")
      ->capture_default_str();
  bench->add_option("--output-format", b.output_format, "normal or json")
      ->type_name("FORMAT")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  b.size_given = size_opt->count() > 0;

  const char* sub = *info ? "info" : "bench";
  try {
    if (*info) return faio::tool::RunInfo(info_path);
    return faio::tool::RunBench(b);
  } catch (const faio::tool::ToolError& e) {
    std::fflush(stdout);
    fmt::print(stderr, "faio {}: {}\n", sub, e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "faio {}: {}\n", sub, e.what());
    return faio::tool::kExitFailure;
  }
}
