// timer.cc - the deadline heap and its thread (see timer.h).
#include "core/timer.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "core/context.h"

namespace faio::detail::timer {
namespace {

// The heap orders entries by Request::timer_at; Request::timer_pos is each
// entry's place in it (-1: none). Everything here is guarded by mu.
struct Heap {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Request*> v;
  size_t reserved = 0;  // requests with room in v (timer.h, Reserve)
  bool started = false;

  bool Less(size_t a, size_t b) const { return v[a]->timer_at < v[b]->timer_at; }
  void Place(size_t i, Request* r) {
    v[i] = r;
    r->timer_pos = static_cast<int32_t>(i);
  }
  void Swap(size_t a, size_t b) {
    Request* ra = v[a];
    Place(a, v[b]);
    Place(b, ra);
  }
  void Up(size_t i) {
    while (i > 0 && Less(i, (i - 1) / 2)) {
      Swap(i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
  }
  void Down(size_t i) {
    for (;;) {
      size_t least = i;
      size_t l = 2 * i + 1;
      if (l < v.size() && Less(l, least)) least = l;
      if (l + 1 < v.size() && Less(l + 1, least)) least = l + 1;
      if (least == i) return;
      Swap(i, least);
      i = least;
    }
  }
  Request* PopTop() {
    Request* top = v[0];
    top->timer_pos = -1;
    Request* last = v.back();
    v.pop_back();
    if (!v.empty() && last != top) {
      Place(0, last);
      Down(0);
    }
    return top;
  }
};

// Never destroyed, and the thread is never joined: it may be blocked in a wait
// when the process exits (joining it from a static destructor would hang a
// Windows DLL's unload).
Heap& TheHeap() {
  static Heap* h = new Heap();
  return *h;
}

// Fire hands an expired submission to its context. The context cannot go away
// while the submission is counted in it; a stale entry's context may have
// (the pin then fails) or may be another one's (the word then fails).
void Fire(Request* r, uint64_t word) {
  ContextPin ctx(r->ctx.load(std::memory_order_acquire));
  if (ctx) ctx->Expire(r, word);
}

void Loop(Heap* h) {
  std::unique_lock<std::mutex> lock(h->mu);
  for (;;) {
    if (h->v.empty()) {
      h->cv.wait(lock);
      continue;
    }
    const int64_t at = h->v[0]->timer_at;
    if (Now() < at) {
      h->cv.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at)));
      continue;
    }
    Request* r = h->PopTop();
    const uint64_t word = r->timer_word;
    lock.unlock();
    Fire(r, word);
    lock.lock();
  }
}

}  // namespace

int Reserve(Request* r, int* host_error) {
  *host_error = 0;
  Heap& h = TheHeap();
  std::lock_guard<std::mutex> lock(h.mu);
  if (!h.started) {
    try {
      std::thread(Loop, &h).detach();
    } catch (const std::system_error& e) {
      *host_error = e.code().value();
      return FAIO_E_INSUFFICIENT_RESOURCES;
    } catch (const std::bad_alloc&) {
      return FAIO_E_NO_MEMORY;
    }
    h.started = true;
  }
  if (r->timer_reserved) return FAIO_OK;
  if (h.v.capacity() < h.reserved + 1) {
    try {
      h.v.reserve(std::max<size_t>(64, 2 * h.v.capacity()));
    } catch (const std::bad_alloc&) {
      return FAIO_E_NO_MEMORY;
    }
  }
  ++h.reserved;
  r->timer_reserved = true;
  return FAIO_OK;
}

void Arm(Request* r, uint64_t word, int64_t deadline_ns) {
  Heap& h = TheHeap();
  std::lock_guard<std::mutex> lock(h.mu);
  r->timer_word = word;
  r->timer_at = deadline_ns;
  size_t i;
  if (r->timer_pos < 0) {
    i = h.v.size();
    h.v.push_back(r);  // never reallocates: Reserve made room
    r->timer_pos = static_cast<int32_t>(i);
  } else {
    i = static_cast<size_t>(r->timer_pos);
    h.Down(i);  // a later deadline than before sinks; an earlier one rises
    i = static_cast<size_t>(r->timer_pos);
  }
  h.Up(i);
  if (r->timer_pos == 0) h.cv.notify_one();
}

size_t Pending() {
  Heap& h = TheHeap();
  std::lock_guard<std::mutex> lock(h.mu);
  return h.v.size();
}

}  // namespace faio::detail::timer
