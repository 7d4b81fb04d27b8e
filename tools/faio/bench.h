// bench.h - `faio bench`: a fio-like random/sequential read job through faio.
#ifndef FAIO_TOOLS_FAIO_BENCH_H_
#define FAIO_TOOLS_FAIO_BENCH_H_

#include <string>

namespace faio::tool {

// BenchArgs holds the option values as typed; RunBench validates them.
struct BenchArgs {
  std::string filename;  // empty: a temporary file
  std::string size = "256M";
  bool size_given = false;
  std::string bs = "4k";
  std::string iodepth = "32";
  std::string runtime = "5";
  std::string backend = "auto";
  std::string direct = "0";
  std::string rw = "randread";
  std::string output_format = "normal";
};

// RunBench runs the job and prints its result. Returns the exit code; throws
// ToolError for bad option values and failures.
int RunBench(const BenchArgs& args);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_H_
