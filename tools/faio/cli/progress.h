// progress.h - the one-line progress report of `faio cp` and `faio verify` on a
// terminal.
//
// Threads: one Progress is used by one thread.
#ifndef FAIO_TOOLS_FAIO_CLI_PROGRESS_H_
#define FAIO_TOOLS_FAIO_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace faio::tool {

// Progress draws a one-line progress report on stderr ("\r..."), at most five
// times a second, when enabled (the caller decides: a TTY and no
// --no-progress). Finish erases the line.
class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Update reports `done` bytes of `total` handled so far (`position`: where in
  // the file the work has got to, for the percentage).
  void Update(uint64_t done, uint64_t position);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

// ProgressWanted says whether a progress line should be drawn: stderr is a
// terminal and the user did not say --no-progress.
bool ProgressWanted(bool no_progress);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_CLI_PROGRESS_H_
