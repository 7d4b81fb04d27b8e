// co_copy.cc - copy a file with C++20 coroutines over faio, and check the copy.
//
// A few coroutines share the copy: each takes the next chunk, co_awaits its read,
// then its write; the last step co_awaits a flush of the destination. One call,
// faio::Drive, runs the context and resumes the coroutines on this thread.
//
//   co_copy SRC DST      copy SRC to DST (created or truncated) and compare them
//   co_copy              copy a fresh 5 MiB + 123 B random file in /tmp, compare
// The backend is faio's automatic choice, or $FAIO_BACKEND.
//
// Build against an installed faio:
//   c++ -std=c++20 co_copy.cc $(pkg-config --cflags --libs --static faio)
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <faio/faio.hpp>
#include <random>
#include <span>
#include <vector>

namespace {

constexpr size_t kChunk = 256 * 1024;
constexpr int kWorkers = 4;

struct Copy {
  faio::Context& ctx;
  int in;
  int out;
  int64_t size;
  int64_t next = 0;  // the next chunk to take (coroutines share one thread)
};

// Transfer moves one chunk, continuing a short read or write until it is whole.
faio::Task<faio::Status> Transfer(Copy& c, int64_t off, std::span<std::byte> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    faio::Result<size_t> r = co_await c.ctx.Read(c.in, off + done, buf.subspan(done));
    if (!r.ok()) co_return r.status();
    if (r.value() == 0) co_return faio::Status::kIo;  // the source shrank
    done += r.value();
  }
  done = 0;
  while (done < buf.size()) {
    faio::Result<size_t> w = co_await c.ctx.Write(c.out, off + done, buf.subspan(done));
    if (!w.ok()) co_return w.status();
    done += w.value();
  }
  co_return faio::Status::kOk;
}

// Worker copies chunks until none is left; its buffer lives in its frame.
faio::Task<faio::Status> Worker(Copy& c) {
  std::vector<std::byte> buf(kChunk);
  while (c.next < c.size) {
    int64_t off = c.next;
    size_t len = static_cast<size_t>(std::min<int64_t>(kChunk, c.size - off));
    c.next += static_cast<int64_t>(len);
    faio::Status s = co_await Transfer(c, off, std::span(buf).first(len));
    if (s != faio::Status::kOk) co_return s;
  }
  co_return faio::Status::kOk;
}

faio::Task<faio::Status> CopyAll(Copy& c) {
  std::array<faio::Task<faio::Status>, kWorkers> workers;
  for (auto& w : workers) {
    w = Worker(c);
    w.Start();  // all of them run at once; their first reads go out as one batch
  }
  faio::Status first = faio::Status::kOk;
  for (auto& w : workers) {
    faio::Status s = co_await w;
    if (first == faio::Status::kOk) first = s;
  }
  if (first != faio::Status::kOk) co_return first;
  faio::Result<size_t> f = co_await c.ctx.Flush(c.out);
  co_return f.status();
}

bool SameContent(int a, int b, int64_t size) {
  std::vector<char> x(1 << 20), y(1 << 20);
  for (int64_t off = 0; off < size;) {
    size_t len = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(x.size()), size - off));
    if (pread(a, x.data(), len, off) != static_cast<ssize_t>(len) ||
        pread(b, y.data(), len, off) != static_cast<ssize_t>(len) ||
        std::memcmp(x.data(), y.data(), len) != 0) {
      std::fprintf(stderr, "co_copy: the copy differs in the MiB at %lld\n",
                   static_cast<long long>(off));
      return false;
    }
    off += static_cast<int64_t>(len);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int in = -1;
  int out = -1;
  char src[] = "/tmp/faio-co-copy-src.XXXXXX";
  char dst[] = "/tmp/faio-co-copy-dst.XXXXXX";
  if (argc == 3) {
    in = open(argv[1], O_RDONLY | O_CLOEXEC);
    out = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } else if (argc == 1) {
    in = mkstemp(src);
    out = mkstemp(dst);
    if (in >= 0) unlink(src);
    if (out >= 0) unlink(dst);
    std::vector<unsigned char> data(5 * 1024 * 1024 + 123);
    std::mt19937 rng(7);
    for (auto& b : data) b = static_cast<unsigned char>(rng());
    if (in >= 0 && pwrite(in, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) {
      std::perror("co_copy: writing the source");
      return 1;
    }
  } else {
    std::fprintf(stderr, "usage: co_copy [SRC DST]\n");
    return 2;
  }
  if (in < 0 || out < 0) {
    std::perror("co_copy: open");
    return 1;
  }
  struct stat st;
  if (fstat(in, &st) != 0) {
    std::perror("co_copy: fstat");
    return 1;
  }

  auto ctx = faio::Context::Create({.capacity = 2 * kWorkers});
  if (!ctx.ok()) {
    std::fprintf(stderr, "co_copy: Context::Create: %s\n", faio::ToString(ctx.status()));
    return 1;
  }
  Copy c{ctx.value(), in, out, st.st_size};
  faio::Task<faio::Status> task = CopyAll(c);
  faio::Status driven = faio::Drive(ctx.value(), task);
  faio::Status copied = driven == faio::Status::kOk ? task.Get() : driven;
  if (copied != faio::Status::kOk) {
    std::fprintf(stderr, "co_copy: %s\n", faio::ToString(copied));
    return 1;
  }
  if (!SameContent(in, out, st.st_size)) return 1;
  std::printf("co_copy: %lld bytes copied on %s and checked byte for byte\n",
              static_cast<long long>(st.st_size), ctx.value().Backend());
  close(in);
  close(out);
  return 0;
}
