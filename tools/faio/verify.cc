// verify.cc - `faio verify`. Placeholder while it is being written: registers the
// subcommand and refuses to run.
#include "common.h"
#include "subcommand.h"

namespace faio::tool {

Subcommand AddVerify(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("verify", "(not built yet)");
  return {app, [] () -> int { throw ToolError(kExitFailure, "not built yet"); }};
}

}  // namespace faio::tool
