// subcommand.h - how main.cc meets the tool's subcommands.
//
// Each subcommand lives in its own file and registers itself: AddX declares the
// subcommand and its options on the top-level CLI11 app and returns the function
// that runs it once the command line has been parsed. The function returns the
// exit code, or throws ToolError (cli/common.h) with a message for the user.
#ifndef FAIO_TOOLS_FAIO_CLI_SUBCOMMAND_H_
#define FAIO_TOOLS_FAIO_CLI_SUBCOMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>

namespace faio::tool {

struct Subcommand {
  CLI::App* app = nullptr;   // the CLI11 subcommand (parsed when *app is true)
  std::function<int()> run;  // runs it with the parsed options
};

Subcommand AddInfo(CLI::App& parent);    // info/info.cc
Subcommand AddBench(CLI::App& parent);   // bench/bench.cc
Subcommand AddCp(CLI::App& parent);      // cp/cp.cc
Subcommand AddVerify(CLI::App& parent);  // verify/verify.cc

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_CLI_SUBCOMMAND_H_
