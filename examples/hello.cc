// hello.cc - write a file through faio's C++ API, flush it, and read it back.
//
// Build against an installed faio:
//   c++ -std=c++20 hello.cc $(pkg-config --cflags --libs --static faio)
// (tests/install/run.sh builds and runs it this way and through find_package.)
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <faio/faio.hpp>
#include <span>
#include <string_view>

namespace {

// Check stops the program with faio's phrase for a failed status.
void Check(faio::Status s, const char* what) {
  if (s != faio::Status::kOk) {
    std::fprintf(stderr, "%s: %s\n", what, faio::ToString(s));
    std::exit(1);
  }
}

}  // namespace

int main() {
  char path[] = "/tmp/faio-hello.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    std::perror("mkstemp");
    return 1;
  }
  unlink(path);  // the file lives as long as fd

  auto ctx = faio::Context::Create({.capacity = 8});  // auto backend (or $FAIO_BACKEND)
  Check(ctx.status(), "Context::Create");
  auto write = faio::Request::Create();
  auto flush = faio::Request::Create();
  auto read = faio::Request::Create();
  Check(write.status(), "Request::Create");
  Check(flush.status(), "Request::Create");
  Check(read.status(), "Request::Create");

  // One batch: the write, then a flush that completes after it and makes it durable.
  constexpr std::string_view kMsg = "hello, faio";
  Check(write.value().PrepareWrite(fd, 0, std::as_bytes(std::span(kMsg))), "PrepareWrite");
  Check(flush.value().PrepareFlush(fd), "PrepareFlush");
  std::array<faio_req*, 2> batch = {write.value().native(), flush.value().native()};
  Check(ctx.value().Submit(batch), "Submit");

  std::array<faio_req*, 2> done{};
  auto waited = ctx.value().Wait(2, done);  // both, in any order; no timeout
  Check(waited.status(), "Wait");
  Check(write.value().Outcome().status(), "write");
  Check(flush.value().Outcome().status(), "flush");

  // Requests are reusable: prepare, submit and wait again for the read.
  std::array<char, kMsg.size()> buf{};
  Check(read.value().PrepareRead(fd, 0, std::as_writable_bytes(std::span(buf))), "PrepareRead");
  Check(ctx.value().Submit(read.value()), "Submit");
  Check(ctx.value().Wait(1, std::span(done).first(1), faio::Millis(1000)).status(), "Wait");
  auto got = read.value().Outcome();
  Check(got.status(), "read");

  std::printf("%s: read back \"%.*s\" (%zu bytes)\n", ctx.value().Backend(),
              static_cast<int>(got.value()), buf.data(), got.value());
  close(fd);
  bool ok = got.value() == kMsg.size() && std::memcmp(buf.data(), kMsg.data(), kMsg.size()) == 0;
  return ok ? 0 : 1;
}  // Requests and the context are destroyed here, idle, by their destructors.
