// coro_test.cc - the C++20 awaitables of faio.hpp (co_await ctx.Read/Write/Flush,
// Task, Round, Drive, Dispatch, ResumeReady) on every backend: data byte for byte,
// a coroutine destroyed while it awaits, a coroutine destroyed after its
// completion came but before it resumed, a round's batch refused in part, long
// chains, exceptions (docs/event-loops.md, "Coroutines").
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#ifndef _WIN32
#include <poll.h>
#endif

#include "conformance.h"
#include "faio/faio.hpp"

namespace faio_test {
namespace {

struct TwoReads;

class Coro : public BackendTest {
 protected:
  // StartTwoReads: see TwoReads (below).
  std::unique_ptr<TwoReads> StartTwoReads();
  faio::Context MakeContext(uint32_t capacity = 0) {
    faio::Result<faio::Context> c = faio::Context::Create(
        {.capacity = capacity, .threads = IsThreads() ? kThreadsWorkers : 0, .backend = backend()});
    EXPECT_ST(FAIO_OK, static_cast<int>(c.status()));
    return std::move(c.value());
  }
};

std::span<std::byte> AsBytes(Bytes& b) { return std::as_writable_bytes(std::span(b)); }

faio::Task<faio::Status> CopyChunks(faio::Context& ctx, faio_file in, faio_file out, int64_t size,
                                    int64_t& next, size_t chunk) {
  Bytes buf(chunk);
  while (next < size) {
    int64_t off = next;
    size_t len = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(chunk), size - off));
    next += static_cast<int64_t>(len);
    for (size_t done = 0; done < len;) {
      auto r = co_await ctx.Read(in, off + static_cast<int64_t>(done),
                                 AsBytes(buf).subspan(done, len - done));
      if (!r.ok()) co_return r.status();
      if (r.value() == 0) co_return faio::Status::kIo;
      done += r.value();
    }
    for (size_t done = 0; done < len;) {
      auto w = co_await ctx.Write(out, off + static_cast<int64_t>(done),
                                  AsBytes(buf).subspan(done, len - done));
      if (!w.ok()) co_return w.status();
      done += w.value();
    }
  }
  co_return faio::Status::kOk;
}

faio::Task<faio::Status> CopyFile(faio::Context& ctx, faio_file in, faio_file out, int64_t size) {
  int64_t next = 0;
  std::vector<faio::Task<faio::Status>> workers;
  for (int i = 0; i < 5; i++) workers.push_back(CopyChunks(ctx, in, out, size, next, 12345));
  for (auto& w : workers) w.Start();
  faio::Status first = faio::Status::kOk;
  for (auto& w : workers) {
    faio::Status s = co_await w;
    if (first == faio::Status::kOk) first = s;
  }
  if (first != faio::Status::kOk) co_return first;
  co_return (co_await ctx.Flush(out)).status();
}

// Five coroutines copy a file of an odd size in odd chunks (reads and writes
// interleaved in rounds), then flush: the copy is the source, byte for byte.
TEST_P(Coro, CopyByteForByte) {
  faio::Context ctx = MakeContext(16);
  ASSERT_TRUE(ctx);
  TempFile src, dst;
  ASSERT_TRUE(src.ok() && dst.ok());
  Bytes data = RandomBytes(1024 * 1024 + 77, 11);
  ASSERT_TRUE(src.Write(data));
  faio::Task<faio::Status> t = CopyFile(ctx, src.fd(), dst.fd(), static_cast<int64_t>(data.size()));
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, t));
  ASSERT_TRUE(t.Done());
  EXPECT_EQ(faio::Status::kOk, t.Get());
  EXPECT_TRUE(dst.ReadAll() == data) << "the copy differs from the source";
  ExpectNoneCounted(ctx.native());
}

faio::Task<faio::Result<size_t>> ReadOne(faio::Context& ctx, faio_file f, int64_t off,
                                         std::span<std::byte> into) {
  co_return co_await ctx.Read(f, off, into);
}

// Two coroutines each awaiting a 16-byte read of one file (at 0 and 4096),
// started in one round.
struct TwoReads {
  faio::Context ctx;
  std::unique_ptr<TempFile> f;
  std::array<std::byte, 16> a{}, b{};
  std::optional<faio::Task<faio::Result<size_t>>> ta, tb;
};

// (Held by pointer: the coroutines refer to its context and buffers.)
std::unique_ptr<TwoReads> Coro::StartTwoReads() {
  auto t = std::make_unique<TwoReads>();
  t->ctx = MakeContext(4);
  t->f = NewFile(8192);
  if (!t->ctx || !t->f->ok()) {
    ADD_FAILURE() << "no context or file";
    t->ctx = faio::Context();
    return t;
  }
  t->ta.emplace(ReadOne(t->ctx, t->f->fd(), 0, t->a));
  t->tb.emplace(ReadOne(t->ctx, t->f->fd(), 4096, t->b));
  faio::Round round;
  t->ta->Start();
  t->tb->Start();
  return t;
}

// A coroutine destroyed while it awaits a held pipe read: when the destruction
// returns, the request is over - withdrawn (the byte fed later stays in the pipe)
// or, where the host cannot withdraw it, completed by the destructor driving the
// context (the byte fed later is what it read) - and the context counts nothing.
// Which of the two happens depends on the backend and on timing (a threads
// worker may already be blocked in the read); both are checked.
TEST_P(Coro, DestroyedWhileAwaitingCancelsItsRequest) {
  faio::Context ctx = MakeContext(4);
  ASSERT_TRUE(ctx);
  Pipe* p = NewPipe();
  ASSERT_TRUE(p->ok());
  std::array<std::byte, 1> buf{};
  std::optional<faio::Task<faio::Result<size_t>>> t(ReadOne(ctx, p->r, 0, buf));
  t->Start();
  ASSERT_FALSE(t->Done());
  const int feed_after_ms = static_cast<int>(LateMs()) * 2;
  std::thread feeder([&] {
    SleepMs(feed_after_ms);
    EXPECT_EQ(1u, p->Feed(1));
  });
  Clock::time_point t0 = Clock::now();
  t.reset();  // destroys the coroutine frame (and buf's owner could go now)
  int64_t took = MsSince(t0);
  feeder.join();
  ExpectNoneCounted(ctx.native());
  // Waited for: the read took the fed byte into buf. Withdrawn: buf is untouched
  // and the byte is still in the pipe.
  bool withdrawn = buf[0] != static_cast<std::byte>('p');
  if (withdrawn) {
    EXPECT_TRUE(p->TakeOne()) << "withdrawn, yet the fed byte is gone";
  } else {
    EXPECT_GE(took, feed_after_ms - 20) << "the read completed before the byte was fed";
  }
  std::printf("[ %s ] destroyed while awaiting: %s (%lld ms)\n", backend(),
              withdrawn ? "withdrawn" : "drove the context until it completed",
              static_cast<long long>(took));
}

// A coroutine destroyed while it awaits a read that the host has finished but no
// wait has returned: the cancel answers completed, so the destructor drives the
// context until the completion comes. Another coroutine's completion that the
// same run brings is queued, not lost: it resumes at the next ResumeReady.
TEST_P(Coro, DestroyedAfterTheHostFinishedDrivesTheContext) {
  std::unique_ptr<TwoReads> two = StartTwoReads();
  ASSERT_TRUE(two->ctx);
  auto& [ctx, f, a, b, ta, tb] = *two;
  SleepMs(static_cast<int>(PromptMs()));  // both reads are done on the host by now
  ASSERT_FALSE(tb->Done());
  tb.reset();  // cancel: completed (or in progress); the destructor runs ctx
  // The destructor's run may have brought a's completion too (then it resumes
  // now); never b's coroutine, which is gone (ASan would see a resume).
  EXPECT_LE(faio::ResumeReady(), 1u);
  while (!ta->Done()) {
    faio::Result<size_t> r = ctx.Run(1, milliseconds(2000));
    ASSERT_TRUE(r.ok()) << faio::ToString(r.status());
    (void)faio::ResumeReady();
  }
  faio::Result<size_t> r = ta->Get();
  ASSERT_EQ(faio::Status::kOk, r.status());
  ASSERT_EQ(16u, r.value());
  for (size_t i = 0; i < 16; i++) EXPECT_EQ(static_cast<std::byte>(i * 7 + 3), a[i]) << i;
  ExpectNoneCounted(ctx.native());
}

// Completions that came (the callbacks ran) before their coroutines resumed:
// destroying one of those coroutines takes it off the ready queue; the other
// still resumes, with its data.
TEST_P(Coro, DestroyedAfterItsCompletionCameIsNotResumed) {
  std::unique_ptr<TwoReads> two = StartTwoReads();
  ASSERT_TRUE(two->ctx);
  auto& [ctx, f, a, b, ta, tb] = *two;
  size_t came = 0;
  Clock::time_point end = Clock::now() + std::chrono::seconds(5);
  while (came < 2 && Clock::now() < end) {
    faio::Result<size_t> r = ctx.Run(2 - came, milliseconds(100));
    if (r.ok()) came += r.value();
  }
  ASSERT_EQ(2u, came);
  EXPECT_FALSE(ta->Done());  // queued, not resumed
  tb.reset();
  EXPECT_EQ(1u, faio::ResumeReady());
  ASSERT_TRUE(ta->Done());
  faio::Result<size_t> r = ta->Get();
  ASSERT_EQ(faio::Status::kOk, r.status());
  ASSERT_EQ(16u, r.value());
  for (size_t i = 0; i < 16; i++) EXPECT_EQ(static_cast<std::byte>(i * 7 + 3), a[i]) << i;
  EXPECT_EQ(0u, faio::ResumeReady());
  ExpectNoneCounted(ctx.native());
}

// Six coroutines start in one round on a context of capacity 4: the round's one
// submit takes four; the other two resume with insufficient resources.
TEST_P(Coro, ARoundsRefusedOperationsResumeWithTheStatus) {
  faio::Context ctx = MakeContext(4);
  ASSERT_TRUE(ctx);
  auto f = NewFile(64 * 1024);
  ASSERT_TRUE(f->ok());
  std::vector<std::array<std::byte, 64>> bufs(6);
  std::vector<faio::Task<faio::Result<size_t>>> ts;
  for (size_t i = 0; i < 6; i++) ts.push_back(ReadOne(ctx, f->fd(), 64 * i, bufs[i]));
  {
    faio::Round round;
    for (auto& t : ts) t.Start();
  }
  int ok = 0, refused = 0;
  for (auto& t : ts) {
    while (!t.Done()) {
      faio::Result<size_t> r = ctx.Run(1, milliseconds(1000));
      // kInterrupted: the wakeup the round's refusal sends (docs/event-loops.md).
      ASSERT_TRUE(r.ok() || r.status() == faio::Status::kNoRequest ||
                  r.status() == faio::Status::kTimeout || r.status() == faio::Status::kInterrupted)
          << faio::ToString(r.status());
      (void)faio::ResumeReady();
    }
    faio::Result<size_t> r = t.Get();
    if (r.ok()) {
      EXPECT_EQ(64u, r.value());
      ok++;
    } else {
      EXPECT_EQ(faio::Status::kInsufficientResources, r.status());
      refused++;
    }
  }
  EXPECT_EQ(4, ok);
  EXPECT_EQ(2, refused);
  // In order: the accepted prefix is the first four.
  for (size_t i = 0; i < 4; i++) EXPECT_TRUE(ts[i].Get().ok()) << i;
}

faio::Task<uint64_t> Chain(faio::Context& ctx, faio_file f, int n) {
  std::array<std::byte, 8> buf{};
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    auto r = co_await ctx.Read(f, (i % 512) * 8, buf);
    if (!r.ok() || r.value() != 8) co_return ~uint64_t{0};
    sum += static_cast<uint64_t>(buf[0]);
  }
  co_return sum;
}

// One coroutine awaits 20,000 reads one after another (each resumes from a
// completion and starts the next): every one arrives, with its byte.
TEST_P(Coro, LongChainOfAwaits) {
  faio::Context ctx = MakeContext(2);
  ASSERT_TRUE(ctx);
  auto f = NewFile(4096);
  ASSERT_TRUE(f->ok());
  const int n = kSanitized || RunningUnderWine() ? 4000 : 20000;
  uint64_t want = 0;
  for (int i = 0; i < n; i++) want += static_cast<uint8_t>(((i % 512) * 8) * 7 + 3);
  faio::Task<uint64_t> t = Chain(ctx, f->fd(), n);
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, t));
  EXPECT_EQ(want, t.Get());
}

faio::Task<int> Throws(faio::Context& ctx, faio_file f) {
  std::array<std::byte, 4> buf{};
  (void)co_await ctx.Read(f, 0, buf);
  throw std::runtime_error("from the coroutine");
}
faio::Task<int> CatchesFromChild(faio::Context& ctx, faio_file f) {
  try {
    co_return co_await Throws(ctx, f);
  } catch (const std::runtime_error&) {
    co_return 42;
  }
}

// An exception a coroutine lets out stays in its Task and is thrown again to the
// coroutine that awaits it; nothing crosses the library.
TEST_P(Coro, ExceptionReachesTheAwaiter) {
  faio::Context ctx = MakeContext(2);
  ASSERT_TRUE(ctx);
  auto f = NewFile(4096);
  ASSERT_TRUE(f->ok());
  faio::Task<int> t = CatchesFromChild(ctx, f->fd());
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, t));
  EXPECT_EQ(42, t.Get());
  faio::Task<int> bare = Throws(ctx, f->fd());
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, bare));
  EXPECT_THROW((void)bare.Get(), std::runtime_error);
}

// Bad input reaches the coroutine as the operation's status, without a suspend
// that nothing would end.
TEST_P(Coro, BadInputIsTheOperationsStatus) {
  faio::Context ctx = MakeContext(2);
  ASSERT_TRUE(ctx);
  std::array<std::byte, 4> buf{};
  faio::Task<faio::Result<size_t>> t = ReadOne(ctx, ClosedFd(), -5, buf);
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, t));
  EXPECT_EQ(faio::Status::kInvalidParameter, t.Get().status());
}

faio::Task<void> AwaitOther(faio::Task<faio::Result<size_t>>& child, bool* after) {
  (void)co_await child;
  *after = true;
}

// A coroutine destroyed while it awaits a Task it does not own: the task still
// finishes, and does not resume the destroyed coroutine (ASan would see it).
TEST_P(Coro, AwaiterDestroyedBeforeTheTaskItAwaitsIsNotResumed) {
  faio::Context ctx = MakeContext(4);
  ASSERT_TRUE(ctx);
  auto f = NewFile(8192);
  ASSERT_TRUE(f->ok());
  std::array<std::byte, 16> buf{};
  faio::Task<faio::Result<size_t>> child = ReadOne(ctx, f->fd(), 0, buf);
  child.Start();
  bool after = false;
  std::optional<faio::Task<void>> parent(AwaitOther(child, &after));
  parent->Start();
  ASSERT_FALSE(parent->Done());
  parent.reset();
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, child));
  EXPECT_TRUE(child.Get().ok());
  EXPECT_FALSE(after) << "the destroyed awaiter was resumed";
}

// Drive called inside an open Round (as from code that started coroutines in
// one): the round's operations go to the context before Drive waits.
TEST_P(Coro, DriveInsideARoundSubmitsWhatTheRoundHolds) {
  faio::Context ctx = MakeContext(4);
  ASSERT_TRUE(ctx);
  auto f = NewFile(8192);
  ASSERT_TRUE(f->ok());
  std::array<std::byte, 16> buf{};
  faio::Task<faio::Result<size_t>> t = ReadOne(ctx, f->fd(), 4096, buf);
  faio::Round round;
  t.Start();  // its read waits for the round's submit
  ASSERT_EQ(faio::Status::kOk, faio::Drive(ctx, t));
  ASSERT_TRUE(t.Get().ok());
  EXPECT_EQ(static_cast<std::byte>(4096 * 7 + 3), buf[0]);
}

// The event-loop way: Dispatch whenever the pollable handle is ready, and only
// then; eight coroutines read the file twice, every byte checked.
faio::Task<int> ReadChecked(faio::Context& ctx, faio_file fd, int first, int count) {
  std::array<std::byte, 512> buf{};
  int good = 0;
  for (int i = 0; i < count; i++) {
    int64_t off = ((first + i) % 128) * 512;
    auto r = co_await ctx.Read(fd, off, buf);
    if (r.ok() && r.value() == 512 && buf[0] == static_cast<std::byte>(off * 7 + 3)) good++;
  }
  co_return good;
}
TEST_P(Coro, DispatchFromTheReadyHandleResumesEveryCoroutine) {
  faio::Context ctx = MakeContext(16);
  ASSERT_TRUE(ctx);
  faio::Result<faio::File> h = ctx.Pollable();
  if (h.status() == faio::Status::kNotSupported) {
    GTEST_SKIP() << "no pollable handle on " << backend() << " (docs/event-loops.md)";
  }
  ASSERT_EQ(faio::Status::kOk, h.status());
  auto f = NewFile(128 * 512);
  ASSERT_TRUE(f->ok());
  std::vector<faio::Task<int>> ts;
  for (int i = 0; i < 8; i++) ts.push_back(ReadChecked(ctx, f->fd(), i * 16, 32));
  {
    faio::Round round;
    for (auto& t : ts) t.Start();
  }
  Clock::time_point end = Clock::now() + std::chrono::seconds(20);
  auto all_done = [&] {
    for (auto& t : ts) {
      if (!t.Done()) return false;
    }
    return true;
  };
  while (!all_done() && Clock::now() < end) {
#ifdef _WIN32
    if (WaitForSingleObject(h.value(), 2000) != WAIT_OBJECT_0) continue;
#else
    struct pollfd p = {h.value(), POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) continue;
#endif
    ASSERT_TRUE(faio::Dispatch(ctx).ok());
  }
  ASSERT_TRUE(all_done()) << "a coroutine was left behind with the handle not ready";
  for (auto& t : ts) EXPECT_EQ(32, t.Get());
}

FAIO_INSTANTIATE(Coro);

}  // namespace
}  // namespace faio_test
