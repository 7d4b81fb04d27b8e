// timer.h - per-request deadlines (faio_req_set_timeout; docs/contract.md,
// Deadlines): one process-wide timer thread over a min-heap of the submissions
// that carry a deadline.
//
// A submit arms the request's entry (Arm) before it publishes it; the timer
// thread pops the earliest entry when its time comes and hands the submission
// to its context (Context::Expire), which withdraws it from the host where the
// host can and completes it with FAIO_E_TIMEOUT through the next wait. Requests
// without a deadline never reach this file.
//
// Stale entries. An entry is not removed when its request completes: it names
// one submission (the request's state word), and when it fires for a
// submission that is over, the word no longer matches and nothing happens.
// A request has at most one entry (a new arm moves it), so the heap never holds
// more entries than there are requests that ever had a deadline; Reserve,
// called by faio_req_set_timeout, makes room for a request's entry once, so
// that Arm (under the submit lock) never allocates and never fails.
#ifndef FAIO_SRC_CORE_TIMER_H_
#define FAIO_SRC_CORE_TIMER_H_

#include <chrono>
#include <cstdint>

#include "core/request.h"

namespace faio::detail::timer {

// Now: the steady clock in nanoseconds, the unit of Request::deadline_ns.
inline int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reserve makes room for r's entry and starts the timer thread if it is not
// running. FAIO_E_NO_MEMORY, or FAIO_E_INSUFFICIENT_RESOURCES when no thread
// can be started (the host error in *host_error).
int Reserve(Request* r, int* host_error);

// Arm makes r's entry name submission `word` (kSubmitted) with deadline
// deadline_ns (timer::Now's clock); r must have been reserved.
void Arm(Request* r, uint64_t word, int64_t deadline_ns);

// Pending: entries in the heap (stale ones included); for tests.
size_t Pending();

}  // namespace faio::detail::timer

#endif  // FAIO_SRC_CORE_TIMER_H_
