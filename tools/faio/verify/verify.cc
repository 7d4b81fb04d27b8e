// verify.cc - `faio verify`: the command line and the report of run.h.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/subcommand.h"
#include "host/host.h"
#include "verify/run.h"

namespace faio::tool {
namespace {

constexpr size_t kShown = 20;           // bad blocks listed in the normal output
constexpr uint64_t kMaxBs = 64u << 20;  // largest --bs
constexpr uint32_t kMaxIodepth = 4096;

struct VerifyArgs {
  std::string file;
  std::string size = "64M";
  bool size_given = false;
  std::string bs = "4k";
  std::string iodepth = "16";
  std::string backend = "auto";
  std::string direct = "0";
  std::string seed = "1";
  std::string sequence = "1";
  bool verify_only = false;
  std::string output_format = "normal";
  bool no_progress = false;
};

constexpr BlockKind kBadKinds[] = {BlockKind::kLost,     BlockKind::kMisdirected,
                                   BlockKind::kStale,    BlockKind::kCorrupted,
                                   BlockKind::kMismatch, BlockKind::kUnreadable};

VerifyConfig Validate(const VerifyArgs& a, bool* json) {
  VerifyConfig c;
  c.path = a.file;
  auto bs = ParseSize(a.bs);
  if (!bs || *bs > kMaxBs) {
    throw UsageError(fmt::format("--bs '{}': not a block size from {} bytes to 64M (e.g. 4k)", a.bs,
                                 kHeaderSize));
  }
  c.bs = static_cast<uint32_t>(*bs);
  c.size_given = a.size_given;
  auto size = ParseSize(a.size);
  if (!size) throw UsageError(fmt::format("--size '{}': not a size (use e.g. 64M, 1G)", a.size));
  c.size = *size;
  auto depth = ParseUnsigned(a.iodepth, 1, kMaxIodepth);
  if (!depth) {
    throw UsageError(
        fmt::format("--iodepth '{}': not a whole number from 1 to {}", a.iodepth, kMaxIodepth));
  }
  c.iodepth = static_cast<uint32_t>(*depth);
  c.backend = a.backend;
  c.direct = ParseDirect(a.direct, /*allow_auto=*/false) == DirectMode::kOn;
  auto seed = ParseUnsigned(a.seed, 0, UINT64_MAX);
  if (!seed) throw UsageError(fmt::format("--seed '{}': not a whole number", a.seed));
  c.seed = *seed;
  auto seq = ParseUnsigned(a.sequence, 0, UINT64_MAX);
  if (!seq) throw UsageError(fmt::format("--sequence '{}': not a whole number", a.sequence));
  c.sequence = *seq;
  c.verify_only = a.verify_only;
  if (a.output_format == "normal") {
    *json = false;
  } else if (a.output_format == "json") {
    *json = true;
  } else {
    throw UsageError(fmt::format("--output-format '{}': use normal or json", a.output_format));
  }
  c.progress = !*json && ProgressWanted(a.no_progress);
  return c;
}

double Rate(uint64_t bytes, double secs) {
  return secs > 0 ? static_cast<double>(bytes) / (1024.0 * 1024.0) / secs : 0;
}

void PrintNormal(const VerifyReport& r) {
  const VerifyConfig& c = r.config;
  fmt::print("{}: {} blocks of {} ({}), seed {}, sequence {}, backend {}, direct {}\n", c.path,
             c.size / c.bs, FormatBytes(c.bs), FormatBytes(c.size), c.seed, c.sequence, r.backend,
             c.direct ? "yes" : "no");
  if (!c.verify_only) {
    fmt::print("  wrote {} bytes in {:.3f} s ({:.1f} MiB/s){}, flushed\n", c.size, r.write_seconds,
               Rate(c.size, r.write_seconds), r.created ? " (file created)" : "");
  }
  uint64_t bad = r.BadCount();
  fmt::print("  checked {} blocks in {:.3f} s ({:.1f} MiB/s): {} good, {} bad\n", r.blocks,
             r.check_seconds, Rate(c.size, r.check_seconds),
             r.counts[static_cast<int>(BlockKind::kGood)], bad);
  if (bad == 0) {
    fmt::print("  OK\n");
    return;
  }
  for (BlockKind k : kBadKinds) {
    fmt::print("  {:<12} {}\n", std::string(KindName(k)) + ":", r.counts[static_cast<int>(k)]);
  }
  for (const std::string& h : r.hints) fmt::print("  note: {}\n", h);
  size_t shown = 0;
  fmt::print("  bad blocks{}:\n",
             bad > kShown ? fmt::format(" (first {} of {})", kShown, bad) : "");
  for (const auto& [off, b] : r.bad) {
    if (shown++ == kShown) break;
    fmt::print("    offset {} (block {}): {}: {}\n", off, off / c.bs, KindName(b.kind), b.detail);
  }
}

void PrintJson(const VerifyReport& r) {
  const VerifyConfig& c = r.config;
  nlohmann::ordered_json j;
  j["file"] = c.path;
  j["mode"] = c.verify_only ? "verify_only" : "write_and_verify";
  j["size"] = c.size;
  j["file_size"] = r.file_size;
  j["bs"] = c.bs;
  j["seed"] = c.seed;
  j["sequence"] = c.sequence;
  j["backend"] = r.backend;
  j["direct"] = c.direct;
  j["iodepth"] = c.iodepth;
  if (!c.verify_only) {
    j["write_seconds"] = r.write_seconds;
    j["created"] = r.created;
  }
  j["check_seconds"] = r.check_seconds;
  j["blocks"] = r.blocks;
  j["good"] = r.counts[static_cast<int>(BlockKind::kGood)];
  j["bad"] = r.BadCount();
  nlohmann::ordered_json counts = nlohmann::ordered_json::object();
  for (BlockKind k : kBadKinds) counts[KindName(k)] = r.counts[static_cast<int>(k)];
  j["counts"] = counts;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& [off, b] : r.bad) {
    list.push_back(
        {{"offset", off}, {"block", off / c.bs}, {"kind", KindName(b.kind)}, {"detail", b.detail}});
  }
  j["bad_blocks"] = list;
  j["bad_blocks_more"] = r.BadCount() - r.bad.size();
  j["notes"] = r.hints;
  fmt::print("{}\n", j.dump(2));
}

}  // namespace

Subcommand AddVerify(CLI::App& parent) {
  auto a = std::make_shared<VerifyArgs>();
  CLI::App* app = parent.add_subcommand(
      "verify",
      "Write FILE through faio as self-checking blocks (offset, sequence, seed, crc32c), read it "
      "back and name every bad block: lost, misdirected, stale, corrupted. Exit 0 clean, 1 bad "
      "blocks, 2 trouble.");
  app->add_option("FILE", a->file, "the file to write and check (created if missing)")
      ->required()
      ->type_name("PATH");
  CLI::Option* size_opt =
      app->add_option("--size", a->size,
                      "bytes to write/check, a multiple of --bs (--verify_only: default the "
                      "file's size)")
          ->type_name("SIZE")
          ->capture_default_str();
  app->add_option("--bs", a->bs, "block size, header (48 bytes) included")
      ->type_name("SIZE")
      ->capture_default_str();
  app->add_option("--iodepth", a->iodepth, "requests in flight")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--backend", a->backend,
                  "auto, io_uring, threads, ... (auto honours FAIO_BACKEND)")
      ->type_name("NAME")
      ->capture_default_str();
  app->add_option("--direct", a->direct, "1: O_DIRECT")->type_name("0|1")->capture_default_str();
  app->add_option("--seed", a->seed, "seed of the payload pattern, stored in every header")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--sequence", a->sequence,
                  "write sequence (generation) written, and expected when checking")
      ->type_name("N")
      ->capture_default_str();
  app->add_flag("--verify_only,--verify-only", a->verify_only,
                "only check FILE (written earlier with the same --bs, --seed, --sequence)");
  app->add_option("--output-format", a->output_format, "normal or json")
      ->type_name("FORMAT")
      ->capture_default_str();
  app->add_flag("--no-progress", a->no_progress, "no progress line on stderr");
  return {app, [a, size_opt] {
            a->size_given = size_opt->count() > 0;
            bool json = false;
            VerifyConfig c;
            try {
              c = Validate(*a, &json);
            } catch (const ToolError& e) {
              throw ToolError(kVerifyTrouble, e.what());
            }
            InstallInterruptHandler();
            VerifyReport r = RunVerify(c);
            if (json) {
              PrintJson(r);
            } else {
              PrintNormal(r);
            }
            std::fflush(stdout);
            return r.BadCount() == 0 ? kVerifyClean : kVerifyBad;
          }};
}

}  // namespace faio::tool
