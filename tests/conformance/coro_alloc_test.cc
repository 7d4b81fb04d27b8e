// coro_alloc_test.cc - a co_await of a faio operation allocates nothing once the
// thread is warm (issue 13: no allocation per operation in steady state), on
// every backend. Its own program: it replaces the global operator new to count.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "conformance.h"
#include "faio/faio.hpp"

namespace {
std::atomic<uint64_t> g_news{0};
}  // namespace

// The replacements pair malloc with free, which GCC cannot see through the
// replaced operators: its mismatch warning does not apply here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Every replaceable form, so that no allocation escapes the count and every
// delete frees what its new got (ASan checks the pairing).
namespace {
void* Counted(std::size_t n, std::size_t align = 0) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = Counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = Counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return Counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return Counted(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = Counted(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = Counted(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return Counted(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return Counted(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace faio_test {
namespace {

faio::Task<int> Reads(faio::Context& ctx, faio_file f, int n, uint64_t* news_at_half) {
  std::array<std::byte, 64> buf{};
  int ok = 0;
  for (int i = 0; i < n; i++) {
    if (i == n / 2) *news_at_half = g_news.load();
    auto r = co_await ctx.Read(f, (i % 64) * 64, buf);
    if (r.ok() && r.value() == 64 && buf[0] == static_cast<std::byte>(((i % 64) * 64) * 7 + 3)) {
      ok++;
    }
  }
  co_return ok;
}

class CoroAlloc : public BackendTest {};

// A coroutine awaits 4,000 reads; over the second half (the thread's request
// cache and the context warm) no allocation is made: not by the awaitable, the
// driver, nor the library's submit, wait and dispatch.
TEST_P(CoroAlloc, NoAllocationPerOperationOnceWarm) {
  faio::Result<faio::Context> c = faio::Context::Create(
      {.capacity = 4, .threads = IsThreads() ? kThreadsWorkers : 0, .backend = backend()});
  ASSERT_EQ(faio::Status::kOk, c.status());
  auto f = NewFile(4096);
  ASSERT_TRUE(f->ok());
  uint64_t at_half = 0;
  faio::Task<int> t = Reads(c.value(), f->fd(), 4000, &at_half);
  ASSERT_EQ(faio::Status::kOk, faio::Drive(c.value(), t));
  uint64_t at_end = g_news.load();
  EXPECT_EQ(4000, t.Get());
  EXPECT_GT(at_half, 0u) << "the counter saw nothing: operator new is not the replaced one";
  EXPECT_EQ(0u, at_end - at_half) << "allocations over the last 2,000 awaited reads";
}

FAIO_INSTANTIATE(CoroAlloc);

}  // namespace
}  // namespace faio_test
