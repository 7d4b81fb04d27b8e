// bench_run_test.cc - the faio program itself (FAIO_TOOL_PATH): bad options exit
// 2 naming the option, and short real runs produce fio-shaped JSON (read back
// with nlohmann-json), fio-like text and an SVG plot, leaving no file behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kPercentileKeys[] = {
    "1.000000",  "5.000000",  "10.000000", "20.000000", "30.000000", "40.000000",
    "50.000000", "60.000000", "70.000000", "80.000000", "90.000000", "95.000000",
    "99.000000", "99.500000", "99.900000", "99.950000", "99.990000"};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch directory, used as TMPDIR of the runs (so that a temporary file left
// behind would show) and for --filename / --plot files.
class BenchRun : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/var/tmp") +
                        "/faio-bench-test.XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    ASSERT_NE(mkdtemp(name.data()), nullptr);
    dir_ = name.data();
    tmp_ = dir_ / "tmp";
    fs::create_directory(tmp_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  struct Result {
    int code = -1;
    std::string out, err;
  };

  // Run runs `faio bench args...` with TMPDIR=tmp_, capturing stdout and stderr.
  Result Run(const std::vector<std::string>& args) { return Finish(Spawn(args)); }

  // Spawn starts `faio bench args...`; Finish waits for it and collects its output.
  pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FAIO_TOOL_PATH, "bench"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).rfind("TMPDIR=", 0) != 0) env.emplace_back(*e);
    }
    env.push_back("TMPDIR=" + tmp_.string());
    std::vector<char*> cenv;
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);

    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn " << FAIO_TOOL_PATH << ": " << rc;
      return -1;
    }
    return pid;
  }

  Result Finish(pid_t pid) {
    Result r;
    if (pid < 0) return r;
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadAll(out);
    r.err = ReadAll(err);
    return r;
  }

  bool TmpIsEmpty() const { return fs::is_empty(tmp_); }

  fs::path dir_, tmp_;
};

TEST_F(BenchRun, BadOptionsExitTwoNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    const char* needle;
  } cases[] = {
      {{"--bs", "4q"}, "--bs"},
      {{"--rw=randomread"}, "--rw"},
      {{"--rwmixread", "150"}, "--rwmixread"},
      {{"--iodepth=0"}, "--iodepth"},
      {{"--fsync", "many"}, "--fsync"},
      {{"--output-format", "yaml"}, "--output-format"},
      {{"--no-such-option", "1"}, "--no-such-option"},
      {{"--backend", "warp_drive"}, "--backend"},
      {{"--iodepth", "4", "--bs"}, "--bs"},  // a missing value: CLI11's message, exit 2
  };
  for (const Case& c : cases) {
    Result r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(r.out.find("IOPS"), std::string::npos) << "no run for a usage error: " << r.out;
  }
  EXPECT_TRUE(TmpIsEmpty());
}

// CheckLat checks one fio "*_ns" object.
void CheckLat(const json& l, uint64_t n, bool percentiles, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_TRUE(l.is_object());
  for (const char* k : {"min", "max", "mean", "stddev", "N"}) ASSERT_TRUE(l.contains(k)) << k;
  EXPECT_EQ(l["N"].get<uint64_t>(), n);
  if (n == 0) return;
  const uint64_t mn = l["min"].get<uint64_t>(), mx = l["max"].get<uint64_t>();
  const double mean = l["mean"].get<double>();
  EXPECT_LE(mn, mx);
  EXPECT_GE(mean, static_cast<double>(mn));
  EXPECT_LE(mean, static_cast<double>(mx));
  EXPECT_GE(l["stddev"].get<double>(), 0.0);
  if (!percentiles) return;
  ASSERT_TRUE(l.contains("percentile"));
  const json& p = l["percentile"];
  EXPECT_EQ(p.size(), std::size(kPercentileKeys));
  uint64_t prev = 0;
  for (const char* k : kPercentileKeys) {
    ASSERT_TRUE(p.contains(k)) << k;
    uint64_t v = p[k].get<uint64_t>();
    EXPECT_GE(v, prev) << k;
    EXPECT_GE(v, mn) << k;
    EXPECT_LE(v, mx) << k;
    prev = v;
  }
}

// CheckDirection checks a job's "read" or "write" object and returns total_ios.
uint64_t CheckDirection(const json& d, uint64_t bs, const std::string& where) {
  SCOPED_TRACE(where);
  for (const char* k : {"io_bytes", "io_kbytes", "bw_bytes", "bw", "iops", "runtime", "total_ios",
                        "short_ios", "drop_ios", "slat_ns", "clat_ns", "lat_ns"}) {
    EXPECT_TRUE(d.contains(k)) << k;
  }
  const uint64_t ios = d["total_ios"].get<uint64_t>();
  const uint64_t bytes = d["io_bytes"].get<uint64_t>();
  EXPECT_EQ(d["short_ios"].get<uint64_t>(), 0u);
  EXPECT_EQ(bytes, ios * bs);
  EXPECT_EQ(d["io_kbytes"].get<uint64_t>(), bytes / 1024);
  CheckLat(d["slat_ns"], ios, false, "slat_ns");
  CheckLat(d["clat_ns"], ios, true, "clat_ns");
  CheckLat(d["lat_ns"], ios, true, "lat_ns");
  if (ios == 0) return 0;
  // lat = slat + clat for every request, so the means add up exactly.
  const double slat = d["slat_ns"]["mean"].get<double>(), clat = d["clat_ns"]["mean"].get<double>(),
               lat = d["lat_ns"]["mean"].get<double>();
  EXPECT_NEAR(lat, slat + clat, 1e-6 * lat + 1e-6);
  EXPECT_GE(d["lat_ns"]["min"].get<uint64_t>(), d["clat_ns"]["min"].get<uint64_t>());
  EXPECT_GE(d["lat_ns"]["max"].get<uint64_t>(), d["clat_ns"]["max"].get<uint64_t>());
  const double runtime_ms = d["runtime"].get<double>();
  EXPECT_GE(runtime_ms, 0);
  if (runtime_ms < 1) return ios;  // a sub-millisecond job: no rate to check
  // iops and bw agree with the counts and the runtime (ms, rounded).
  const double iops = d["iops"].get<double>();
  // runtime is in whole ms, rounded: the true runtime is within 0.5 ms of it.
  const double expect = static_cast<double>(ios) * 1000.0 / runtime_ms;
  EXPECT_NEAR(iops, expect, expect * (0.5 / (runtime_ms - 0.5) + 0.001));
  EXPECT_NEAR(static_cast<double>(d["bw_bytes"].get<uint64_t>()), iops * static_cast<double>(bs),
              iops * static_cast<double>(bs) * 0.001 + 1);
  EXPECT_EQ(d["bw"].get<uint64_t>(), d["bw_bytes"].get<uint64_t>() / 1024);
  return ios;
}

TEST_F(BenchRun, JsonOfARandomMixWithFsyncOnTwoJobs) {
  const fs::path plot = dir_ / "run.svg";
  Result r =
      Run({"--runtime", "300ms", "--size", "8M", "--rw=randrw", "--rwmixread=60", "--fsync=4",
           "--numjobs", "2", "--iodepth", "4", "--output-format=json", "--plot", plot.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);  // throws (fails the test) unless stdout is one JSON document
  ASSERT_TRUE(j.contains("faio version"));
  EXPECT_EQ(j["faio version"].get<std::string>().rfind("faio-", 0), 0u);
  for (const char* k : {"timestamp", "timestamp_ms", "time", "jobs"}) EXPECT_TRUE(j.contains(k));
  ASSERT_EQ(j["jobs"].size(), 2u) << "one entry per job without --group_reporting";
  // What a script written for fio reads.
  EXPECT_TRUE(j["jobs"][0]["read"]["iops"].is_number());
  EXPECT_TRUE(j["jobs"][0]["read"]["clat_ns"]["percentile"]["99.000000"].is_number());

  for (const json& job : j["jobs"]) {
    for (const char* k : {"jobname", "groupid", "error", "job options", "read", "write", "trim",
                          "sync", "job_runtime", "usr_cpu", "sys_cpu", "ctx", "majf", "minf"}) {
      EXPECT_TRUE(job.contains(k)) << k;
    }
    EXPECT_EQ(job["jobname"], "faio");
    EXPECT_EQ(job["groupid"], 0);
    EXPECT_EQ(job["error"], 0);
    EXPECT_EQ(job["job options"]["rw"], "randrw");
    EXPECT_EQ(job["job options"]["fsync"], "4");
    const uint64_t reads = CheckDirection(job["read"], 4096, "read");
    const uint64_t writes = CheckDirection(job["write"], 4096, "write");
    EXPECT_GT(reads, 0u);
    EXPECT_GT(writes, 0u);
    // Without --time_based each job stops issuing at --size bytes.
    EXPECT_LE((reads + writes) * 4096, uint64_t{8} << 20);
    EXPECT_EQ(job["trim"]["total_ios"], 0);
    // A flush after every 4 completed writes; at most one due flush (of up to
    // --iodepth writes) can be cut off when the time runs out.
    const uint64_t syncs = job["sync"]["total_ios"].get<uint64_t>();
    EXPECT_LE(syncs, writes / 4);
    EXPECT_GE(syncs + 2, writes / 4);
    CheckLat(job["sync"]["lat_ns"], syncs, true, "sync");
    const double cpu = job["usr_cpu"].get<double>() + job["sys_cpu"].get<double>();
    EXPECT_GE(cpu, 0.0);
    EXPECT_LE(cpu, 110.0);  // one thread's share of its wall time (tick-granular)
    EXPECT_EQ(job["faio"]["first_error"], "");
    EXPECT_TRUE(job["faio"]["temporary"].get<bool>());
  }
  EXPECT_TRUE(TmpIsEmpty()) << "the temporary file is unlinked at creation";

  const std::string svg = ReadAll(plot);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("IOPS"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
}

TEST_F(BenchRun, GroupReportingMergesTheJobs) {
  Result r = Run({"--runtime", "200ms", "--size", "4M", "--rw", "randread", "--numjobs", "2",
                  "--iodepth", "8", "--output-format", "json", "--group_reporting"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["jobs"].size(), 1u);
  const json& job = j["jobs"][0];
  EXPECT_EQ(job["faio"]["jobs"], 2);
  const uint64_t reads = CheckDirection(job["read"], 4096, "read");
  EXPECT_GT(reads, 0u);
  EXPECT_LE(reads * 4096, uint64_t{2} * (4 << 20));
  EXPECT_EQ(job["write"]["total_ios"], 0);
}

TEST_F(BenchRun, TimeBasedRunLastsItsRuntime) {
  Result r = Run({"--runtime", "300ms", "--time_based", "--size", "4M", "--rw", "read", "--bs",
                  "64k", "--iodepth", "2", "--output-format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  const json& job = j["jobs"][0];
  // Sequential reads wrap around the 4 MiB file until the time is up.
  EXPECT_GE(job["job_runtime"].get<uint64_t>(), 280u);
  EXPECT_LE(job["job_runtime"].get<uint64_t>(), 1500u);
  CheckDirection(job["read"], 65536, "read");
  EXPECT_EQ(job["job options"]["time_based"], "1");
}

TEST_F(BenchRun, NormalOutputIsFioLike) {
  Result r = Run(
      {"--runtime", "200ms", "--size", "4M", "--rw", "randrw", "--fsync", "8", "--iodepth", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s :
       {"(groupid=0, jobs=1)", "read: IOPS=", "write: IOPS=", "slat (", "clat (", " lat (",
        "clat percentiles (", "99.99th=[", "fsync/fdatasync", "cpu          : usr=", "ctx=",
        "issued rwts: total=", "Run status group 0 (all jobs):", "READ: bw=", "WRITE: bw="}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << "missing '" << s << "' in:\n" << r.out;
  }
  EXPECT_EQ(r.out.find("\033["), std::string::npos) << "no status line when not a terminal";
}

TEST_F(BenchRun, SigintEndsTheRunWithItsFiguresAndExit130) {
  pid_t pid = Spawn({"--runtime", "20", "--time_based", "--size", "4M", "--iodepth", "4",
                     "--output-format", "json"});
  ASSERT_GT(pid, 0);
  usleep(1500 * 1000);  // the 4 MiB layout takes a fraction of that
  kill(pid, SIGINT);
  Result r = Finish(pid);
  EXPECT_EQ(r.code, 130) << r.err;
  json j = json::parse(r.out);
  const json& job = j["jobs"][0];
  EXPECT_TRUE(job["faio"]["interrupted"].get<bool>());
  EXPECT_LT(job["job_runtime"].get<uint64_t>(), 15000u);
  EXPECT_GT(job["read"]["total_ios"].get<uint64_t>(), 0u);
  EXPECT_TRUE(TmpIsEmpty());
}

TEST_F(BenchRun, WriteJobLaysOutAndKeepsANewFile) {
  const fs::path f = dir_ / "data";
  Result r = Run({"--filename", f.string(), "--size", "4M", "--rw", "write", "--bs", "128k",
                  "--iodepth", "4", "--output-format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("laying out"), std::string::npos);
  json j = json::parse(r.out);
  const uint64_t writes = CheckDirection(j["jobs"][0]["write"], 131072, "write");
  EXPECT_EQ(writes, 32u) << "4 MiB in 128 KiB writes";
  EXPECT_EQ(j["jobs"][0]["read"]["total_ios"], 0);
  ASSERT_TRUE(fs::exists(f));
  EXPECT_EQ(fs::file_size(f), 4u << 20);
}

TEST_F(BenchRun, AFileThatCannotBeCreatedIsReported) {
  const fs::path f = dir_ / "no" / "such" / "dir" / "data";
  Result r = Run({"--filename", f.string(), "--size", "1M", "--runtime", "100ms"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("--filename"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(f));
}

// A file bench creates and cannot lay out is removed again, and a temporary one
// is gone too: here the file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored;
// both inherited by the child) makes the space reservation fail with EFBIG.
TEST_F(BenchRun, AFileThatCannotBeLaidOutIsRemoved) {
  const fs::path f = dir_ / "data";
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit small = saved;
  small.rlim_cur = 1 << 20;
  struct sigaction ign {
  }, old_act{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ign, &old_act), 0);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  // One after the other: the runs share the stdout/stderr capture files.
  Result r = Finish(Spawn({"--filename", f.string(), "--size", "8M", "--rw", "write"}));
  Result t = Finish(Spawn({"--size", "8M", "--rw", "write"}));  // a temporary file
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &old_act, nullptr);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("no room for --size 8"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(f)) << "the half-made file was left behind";
  EXPECT_EQ(t.code, 1) << t.err;
  EXPECT_NE(t.err.find("no room for --size 8"), std::string::npos) << t.err;
  EXPECT_TRUE(TmpIsEmpty());
}

TEST_F(BenchRun, BadPlotPathFailsWithItsName) {
  Result r =
      Run({"--runtime", "100ms", "--size", "1M", "--plot", (dir_ / "missing" / "p.svg").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--plot"), std::string::npos) << r.err;
}

}  // namespace
