// main.cc - the faio command-line tool: info, bench, cp, verify (each compiled in
// where its folder is built, see tools/faio/CMakeLists.txt).
//
// It uses faio's public API only (<faio/faio.hpp>, <faio/faio.h>), like any
// other program would. Each subcommand registers itself (subcommand.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <vector>

#include "cli/common.h"
#include "cli/subcommand.h"

int main(int argc, char** argv) {
  using namespace faio::tool;
  CLI::App app{"faio: asynchronous file I/O -- host report, benchmark, copy and verifier", "faio"};
  app.set_version_flag("--version", VersionString());
  app.require_subcommand(1);

  std::vector<Subcommand> subs = {AddInfo(app), AddBench(app)};
#if FAIO_TOOL_HAVE_CP
  subs.push_back(AddCp(app));
#endif
#if FAIO_TOOL_HAVE_VERIFY
  subs.push_back(AddVerify(app));
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; every malformed command line
    // (unknown option, missing argument, ...) is a usage error, exit 2.
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  for (const Subcommand& sub : subs) {
    if (!*sub.app) continue;
    try {
      return sub.run();
    } catch (const ToolError& e) {
      std::fflush(stdout);
      fmt::print(stderr, "faio {}: {}\n", sub.app->get_name(), e.what());
      return e.exit_code();
    } catch (const std::exception& e) {
      std::fflush(stdout);
      fmt::print(stderr, "faio {}: {}\n", sub.app->get_name(), e.what());
      return kExitFailure;
    }
  }
  return kExitUsage;
}
