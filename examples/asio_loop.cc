// asio_loop.cc - faio coroutines inside an Asio event loop (docs/event-loops.md).
//
// An asio::posix::stream_descriptor watches faio_ctx_pollable's handle; when it is
// ready, faio::Dispatch takes every completion (Run with timeout 0 until none
// comes) and resumes the faio coroutines they wake, whose next reads go to the
// context as one batch. Eight reader coroutines read a 1 MiB file with a known
// pattern 4 times, 4 KiB at a time, and check every byte; an asio::steady_timer
// sends faio_ctx_wakeup meanwhile. Exits 0 when every read came back right.
// Uses the automatic backend (FAIO_BACKEND picks another one).
//
// Build against an installed faio and Debian's libasio-dev (standalone Asio):
//   c++ -std=c++20 asio_loop.cc $(pkg-config --cflags --libs --static faio) -pthread
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <faio/faio.hpp>
#include <span>
#include <vector>

namespace {

constexpr size_t kFileSize = 1 << 20;
constexpr size_t kBlock = 4096;
constexpr int kReaders = 8;
constexpr uint64_t kReads = 4 * (kFileSize / kBlock);

struct App {
  faio::Context ctx;
  int fd = -1;
  std::vector<unsigned char> data = std::vector<unsigned char>(kFileSize);
  uint64_t next = 0;  // the next read to make (one thread: the loop's)
  uint64_t done = 0;
  bool failed = false;
  uint64_t dispatches = 0;
};

faio::Task<void> Reader(App& a) {
  std::array<std::byte, kBlock> buf;
  while (!a.failed && a.next < kReads) {
    int64_t off = static_cast<int64_t>((a.next++ % (kFileSize / kBlock)) * kBlock);
    faio::Result<size_t> r = co_await a.ctx.Read(a.fd, off, buf);
    if (!r.ok() || r.value() != kBlock || std::memcmp(buf.data(), &a.data[off], kBlock) != 0) {
      std::fprintf(stderr, "asio_loop: the read at %lld: %s, %zu bytes\n",
                   static_cast<long long>(off), faio::ToString(r.status()), r.value());
      a.failed = true;
      co_return;
    }
    ++a.done;
  }
}

}  // namespace

int main() {
  App a;
  char path[] = "/tmp/faio-asio-XXXXXX";
  a.fd = mkstemp(path);
  if (a.fd < 0) return std::perror("mkstemp"), 1;
  unlink(path);
  for (size_t i = 0; i < kFileSize; i++) a.data[i] = static_cast<unsigned char>(i * 131u + (i >> 12));
  if (pwrite(a.fd, a.data.data(), kFileSize, 0) != static_cast<ssize_t>(kFileSize)) {
    return std::perror("pwrite"), 1;
  }

  auto ctx = faio::Context::Create();
  if (!ctx.ok()) {
    std::fprintf(stderr, "asio_loop: Context::Create: %s\n", faio::ToString(ctx.status()));
    return 1;
  }
  a.ctx = std::move(ctx.value());
  auto handle = a.ctx.Pollable();  // before the first submit
  if (!handle.ok()) {
    std::fprintf(stderr, "asio_loop: backend %s: Pollable: %s\n", a.ctx.Backend(),
                 faio::ToString(handle.status()));
    return 1;
  }

  asio::io_context io;
  asio::posix::stream_descriptor ready(io, handle.value());  // watched, never read
  asio::steady_timer timer(io);

  std::vector<faio::Task<void>> readers;
  for (int i = 0; i < kReaders; i++) readers.push_back(Reader(a));
  {
    faio::Round round;  // the first reads of all readers: one submit
    for (auto& r : readers) r.Start();
  }
  auto all_done = [&] {
    for (auto& r : readers) {
      if (!r.Done()) return false;
    }
    return true;
  };

  std::function<void()> arm = [&] {
    ready.async_wait(asio::posix::stream_descriptor::wait_read, [&](const asio::error_code& ec) {
      if (ec) {
        std::fprintf(stderr, "asio_loop: async_wait: %s\n", ec.message().c_str());
        a.failed = true;
        return;
      }
      faio::Result<size_t> taken = faio::Dispatch(a.ctx);  // the rule, then resume
      ++a.dispatches;
      if (!taken.ok()) {
        std::fprintf(stderr, "asio_loop: Dispatch: %s\n", faio::ToString(taken.status()));
        a.failed = true;
      }
      if (a.failed || all_done()) {
        timer.cancel();
        return;
      }
      arm();
    });
  };
  std::function<void()> tick = [&] {
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait([&](const asio::error_code& ec) {
      // Cancelled, or it fired just before the cancel (its handler was already
      // queued): the readers are done, tick no more.
      if (ec || a.failed || all_done()) return;
      (void)a.ctx.Wakeup();
      tick();
    });
  };
  arm();
  tick();
  io.run();
  ready.release();  // the handle is faio's: faio_ctx_destroy closes it

  if (a.failed || a.done != kReads) {
    std::fprintf(stderr, "asio_loop: %llu of %llu reads came back right\n",
                 static_cast<unsigned long long>(a.done), static_cast<unsigned long long>(kReads));
    return 1;
  }
  std::printf("asio_loop: ok: %llu reads of %zu bytes checked on %s through Asio (%llu dispatches)\n",
              static_cast<unsigned long long>(a.done), kBlock, a.ctx.Backend(),
              static_cast<unsigned long long>(a.dispatches));
  readers.clear();
  close(a.fd);
  return a.ctx.Destroy() == faio::Status::kOk ? 0 : 1;
}
