// cp.cc - `faio cp SRC DST`: the command line and the summary of copy.h.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/common.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/subcommand.h"
#include "cp/copy.h"
#include "host/host.h"

namespace faio::tool {
namespace {

struct CpArgs {
  std::string src;
  std::string dst;
  std::string bs = "1M";
  std::string iodepth = "16";
  std::string backend = "auto";
  std::string direct = "auto";
  bool verify = false;
  bool no_clobber = false;
  bool no_progress = false;
};

CopyOptions Validate(const CpArgs& a) {
  CopyOptions o;
  o.src = a.src;
  o.dst = a.dst;
  auto bs = ParseSize(a.bs);
  if (!bs) throw UsageError(fmt::format("--bs '{}': not a block size (use e.g. 64k, 1M)", a.bs));
  o.bs = *bs;
  auto depth = ParseUnsigned(a.iodepth, 1, 4096);
  if (!depth)
    throw UsageError(fmt::format("--iodepth '{}': not a whole number from 1 to 4096", a.iodepth));
  o.iodepth = static_cast<uint32_t>(*depth);
  if (a.backend.empty())
    throw UsageError("--backend: empty name (use auto, io_uring, threads, ...)");
  o.backend = a.backend;
  o.direct = ParseDirect(a.direct, /*allow_auto=*/true);
  o.verify = a.verify;
  o.no_clobber = a.no_clobber;
  o.progress = ProgressWanted(a.no_progress);
  return o;
}

std::string Human(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.2f} {}", v, units[u]);
}

}  // namespace

Subcommand AddCp(CLI::App& parent) {
  auto a = std::make_shared<CpArgs>();
  CLI::App* app = parent.add_subcommand(
      "cp",
      "Copy one file through faio with reads and writes in flight together; holes stay holes. "
      "DST is created with SRC's permissions, or truncated and overwritten if it exists.");
  app->add_option("SRC", a->src, "the file to copy")->required()->type_name("SRC");
  app->add_option("DST", a->dst, "the copy (or a directory to copy into)")
      ->required()
      ->type_name("DST");
  app->add_option("--bs", a->bs, "bytes per read and write")
      ->type_name("SIZE")
      ->capture_default_str();
  app->add_option("--iodepth", a->iodepth, "requests in flight (one buffer of --bs each)")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--backend", a->backend,
                  "auto, io_uring, threads, ... (auto honours FAIO_BACKEND)")
      ->type_name("NAME")
      ->capture_default_str();
  app->add_option("--direct", a->direct,
                  "O_DIRECT on both files: auto (when both accept it and --bs is aligned), 1, 0")
      ->type_name("auto|0|1")
      ->capture_default_str();
  app->add_flag("--verify", a->verify, "after the copy, read both files back and compare them");
  app->add_flag("--no-clobber,-n", a->no_clobber, "refuse to overwrite an existing DST");
  app->add_flag("--no-progress", a->no_progress, "no progress line on stderr");
  return {app, [a] {
            CopyOptions o = Validate(*a);
            InstallInterruptHandler();
            CopyResult r = CopyFile(o);
            double secs = r.seconds > 0 ? r.seconds : 1e-9;
            double rate = static_cast<double>(r.data_bytes) / (1024.0 * 1024.0) / secs;
            fmt::print("{} -> {}: {} bytes ({}) in {:.3f} s, {:.1f} MiB/s, backend {}, direct {}\n",
                       o.src, r.dst, r.size, Human(r.size), r.seconds, rate, r.backend,
                       r.direct ? "yes" : "no");
            if (r.data_bytes != r.size) {
              fmt::print("  data: {} bytes in {} extent(s); the {} bytes of holes stay holes\n",
                         r.data_bytes, r.extents, r.size - std::min(r.size, r.data_bytes));
            }
            if (!r.direct_note.empty()) fmt::print("  buffered I/O: {}\n", r.direct_note);
            if (r.overwrote) fmt::print("  {} existed: truncated and overwritten\n", r.dst);
            if (r.verified) {
              fmt::print("  verified: identical ({} compared in {:.3f} s)\n", Human(r.size),
                         r.verify_seconds);
            }
            std::fflush(stdout);
            return kExitOk;
          }};
}

}  // namespace faio::tool
