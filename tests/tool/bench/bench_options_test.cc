// bench_options_test.cc - faio bench's command line: parsed by CLI11 exactly as
// the program does (DeclareBench), then validated by ParseBench.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "cli/common.h"
#include "cli/options.h"

namespace faio::tool {
namespace {

// Parse runs argv (after "faio bench") through CLI11 and ParseBench.
BenchSpec Parse(std::vector<std::string> argv) {
  CLI::App app{"test", "faio"};
  auto args = std::make_shared<BenchArgs>();
  BenchCommand cmd = DeclareBench(app, args);
  argv.insert(argv.begin(), "bench");
  std::reverse(argv.begin(), argv.end());  // CLI11 takes a reversed vector
  app.parse(argv);
  cmd.finish();
  return ParseBench(*args);
}

// ExpectUsage checks that argv is refused with exit code 2 and a message
// containing `needle` (the option's name).
void ExpectUsage(std::vector<std::string> argv, const std::string& needle) {
  std::string joined;
  for (const auto& a : argv) joined += a + " ";
  try {
    Parse(argv);
    ADD_FAILURE() << joined << ": accepted";
  } catch (const ToolError& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage) << joined;
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << joined << ": message '" << e.what() << "' does not name " << needle;
  }
}

TEST(BenchOptions, DefaultJobIsFiveSecondsOfRandomReadsAtDepth32) {
  BenchSpec s = Parse({});
  EXPECT_EQ(s.rw, "randread");
  EXPECT_TRUE(s.reads);
  EXPECT_FALSE(s.writes);
  EXPECT_TRUE(s.random);
  EXPECT_EQ(s.bs, 4096u);
  EXPECT_EQ(s.iodepth, 32u);
  EXPECT_EQ(s.size, 256u << 20);
  EXPECT_TRUE(s.time_based);
  EXPECT_EQ(s.runtime_ns, 5000000000u);
  EXPECT_EQ(s.ramp_ns, 0u);
  EXPECT_EQ(s.numjobs, 1u);
  EXPECT_EQ(s.fsync, 0u);
  EXPECT_EQ(s.rwmixread, 50u);
  EXPECT_TRUE(s.batch_submit_auto);  // measured as the job runs
  EXPECT_EQ(s.batch_complete_min, 1u);
  // Registered buffers and files where the backend has them, unless asked.
  EXPECT_TRUE(s.fixedbufs && s.fixedbufs_auto);
  EXPECT_TRUE(s.registerfiles && s.registerfiles_auto);
  EXPECT_FALSE(s.json);
  EXPECT_TRUE(s.filename.empty());
  EXPECT_TRUE(s.given.empty());
}

TEST(BenchOptions, BothSpellingsOfAValue) {
  BenchSpec a = Parse({"--bs", "64k", "--iodepth", "8", "--rw", "randwrite", "--direct", "1"});
  BenchSpec b = Parse({"--bs=64k", "--iodepth=8", "--rw=randwrite", "--direct=1"});
  for (const BenchSpec* s : {&a, &b}) {
    EXPECT_EQ(s->bs, 65536u);
    EXPECT_EQ(s->iodepth, 8u);
    EXPECT_TRUE(s->writes);
    EXPECT_FALSE(s->reads);
    EXPECT_TRUE(s->direct);
  }
}

TEST(BenchOptions, EveryRwPattern) {
  struct Case {
    const char* rw;
    bool reads, writes, random;
  } cases[] = {{"read", true, false, false},    {"write", false, true, false},
               {"randread", true, false, true}, {"randwrite", false, true, true},
               {"randrw", true, true, true},    {"readwrite", true, true, false},
               {"rw", true, true, false}};
  for (const Case& c : cases) {
    BenchSpec s = Parse({"--rw", c.rw});
    EXPECT_EQ(s.reads, c.reads) << c.rw;
    EXPECT_EQ(s.writes, c.writes) << c.rw;
    EXPECT_EQ(s.random, c.random) << c.rw;
  }
}

TEST(BenchOptions, SizeAloneEndsTheJobBySizeLikeFio) {
  BenchSpec s = Parse({"--size", "8M"});
  EXPECT_FALSE(s.time_based);
  EXPECT_EQ(s.runtime_ns, 0u) << "no time limit unless --runtime is given";
  EXPECT_TRUE(s.size_given);
  s = Parse({"--size", "8M", "--runtime", "300ms"});
  EXPECT_FALSE(s.time_based);
  EXPECT_EQ(s.runtime_ns, 300000000u);
  s = Parse({"--size", "8M", "--runtime=2s", "--time_based"});
  EXPECT_TRUE(s.time_based);
  EXPECT_EQ(s.runtime_ns, 2000000000u);
  s = Parse({"--time_based=0", "--runtime", "1"});
  EXPECT_FALSE(s.time_based);
  s = Parse({"--time_based", "--runtime", "1"});
  EXPECT_TRUE(s.time_based);
}

TEST(BenchOptions, TheRestOfFiosVocabulary) {
  BenchSpec s = Parse({"--rw=randrw", "--rwmixread=70", "--iodepth=16", "--iodepth_batch_submit=4",
                       "--iodepth_batch_complete_min=2", "--ramp_time=500ms", "--numjobs=3",
                       "--fsync=32", "--output-format=json", "--group_reporting", "--fixedbufs",
                       "--registerfiles", "--name=mix", "--backend=threads"});
  EXPECT_EQ(s.rwmixread, 70u);
  EXPECT_EQ(s.batch_submit, 4u);
  EXPECT_FALSE(s.batch_submit_auto);
  EXPECT_EQ(s.batch_complete_min, 2u);
  EXPECT_EQ(s.ramp_ns, 500000000u);
  EXPECT_EQ(s.numjobs, 3u);
  EXPECT_EQ(s.fsync, 32u);
  EXPECT_TRUE(s.json);
  EXPECT_TRUE(s.group_reporting);
  EXPECT_TRUE(s.fixedbufs);
  EXPECT_TRUE(s.registerfiles);
  EXPECT_FALSE(s.fixedbufs_auto);
  EXPECT_FALSE(s.registerfiles_auto);
  EXPECT_EQ(s.name, "mix");
  EXPECT_EQ(s.backend, "threads");
  // "job options" lists what was given, as typed.
  bool saw_rw = false, saw_flag = false;
  for (const auto& [k, v] : s.given) {
    if (k == "rw") saw_rw = v == "randrw";
    if (k == "group_reporting") saw_flag = true;
  }
  EXPECT_TRUE(saw_rw);
  EXPECT_TRUE(saw_flag);
  // --iodepth_batch_complete_min 0 means 1, as in a wait.
  EXPECT_EQ(Parse({"--iodepth_batch_complete_min", "0"}).batch_complete_min, 1u);
  EXPECT_EQ(Parse({"--ramp_time", "0s"}).ramp_ns, 0u);
}

TEST(BenchOptions, BadValuesNameTheOption) {
  ExpectUsage({"--bs", "4q"}, "--bs");
  ExpectUsage({"--bs", "0"}, "--bs");
  ExpectUsage({"--bs", "3G"}, "--bs");
  ExpectUsage({"--size", "lots"}, "--size");
  ExpectUsage({"--size", "4k", "--bs", "8k"}, "--bs");
  ExpectUsage({"--iodepth", "0"}, "--iodepth");
  ExpectUsage({"--iodepth", "-3"}, "--iodepth");
  ExpectUsage({"--iodepth", "70000"}, "--iodepth");
  ExpectUsage({"--iodepth", "4", "--iodepth_batch_complete_min", "5"},
              "--iodepth_batch_complete_min");
  ExpectUsage({"--iodepth_batch_submit", "x"}, "--iodepth_batch_submit");
  ExpectUsage({"--runtime", "0"}, "--runtime");
  ExpectUsage({"--runtime", "5 parsecs"}, "--runtime");
  ExpectUsage({"--ramp_time", "soon"}, "--ramp_time");
  ExpectUsage({"--ramp_time", "-1"}, "--ramp_time");
  ExpectUsage({"--time_based=maybe"}, "--time_based");
  ExpectUsage({"--direct", "yes"}, "--direct");
  ExpectUsage({"--rw", "randomread"}, "--rw");
  ExpectUsage({"--rw", "trim"}, "--rw");
  ExpectUsage({"--rwmixread", "101"}, "--rwmixread");
  ExpectUsage({"--numjobs", "0"}, "--numjobs");
  ExpectUsage({"--fsync", "-1"}, "--fsync");
  ExpectUsage({"--output-format", "xml"}, "--output-format");
  ExpectUsage({"--backend", ""}, "--backend");
  ExpectUsage({"--name", ""}, "--name");
  ExpectUsage({"--frobnicate", "3"}, "--frobnicate");
  ExpectUsage({"--bs", "4k", "stray"}, "stray");
}

TEST(BenchOptions, AMissingValueIsCli11sErrorNamingTheOption) {
  for (const char* opt : {"--bs", "--rw", "--iodepth"}) {
    try {
      Parse({opt});
      ADD_FAILURE() << opt << ": accepted without a value";
    } catch (const CLI::ParseError& e) {
      EXPECT_NE(std::string(e.what()).find(opt), std::string::npos) << e.what();
    }
  }
}

TEST(BenchOptions, SizesAndDurations) {
  EXPECT_EQ(ParseSize("4k"), 4096u);
  EXPECT_EQ(ParseSize("1MiB"), 1u << 20);
  EXPECT_EQ(ParseSize("1.5G"), 3u << 29);
  EXPECT_EQ(ParseSize("512"), 512u);
  EXPECT_FALSE(ParseSize("4x"));
  EXPECT_FALSE(ParseSize(""));
  EXPECT_FALSE(ParseSize("0"));
  EXPECT_EQ(ParseDuration("500ms"), 0.5);
  EXPECT_EQ(ParseDuration("2m"), 120.0);
  EXPECT_EQ(ParseDuration("5"), 5.0);
  EXPECT_FALSE(ParseDuration("0"));
  EXPECT_FALSE(ParseDuration("-1"));
  EXPECT_EQ(ParseDurationOrZero("0"), 0.0);
  EXPECT_EQ(ParseDurationOrZero("0s"), 0.0);
  EXPECT_EQ(ParseDurationOrZero("1.5"), 1.5);
  EXPECT_FALSE(ParseDurationOrZero("-1"));
  EXPECT_FALSE(ParseDurationOrZero("x"));
}

}  // namespace
}  // namespace faio::tool
