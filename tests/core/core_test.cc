// core_test.cc - the core's pieces on their own (src/core): the handle table's
// one-comparison lookup and the request's named state transitions, including
// a completion racing a canceller's hold on another thread, and the raw host
// completion a backend hands the core.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <thread>
#include <vector>

#include "core/context.h"
#include "core/handle_table.h"
#include "core/intrusive_list.h"
#include "core/request.h"
#include "core/stable_array.h"
#include "platform/lock.h"

namespace faio::detail {
namespace {

struct Thing {
  int value = 0;
};

using TableA = HandleTable<Thing, 0xA1>;
using TableB = HandleTable<Thing, 0xB2>;

// StableArray: elements keep their address as the array grows; an index
// whose chunk was never made finds nothing; past the capacity nothing grows.
TEST(StableArray, GrowsWithoutMovingAndFindsOnlyWhatExists) {
  using Array = StableArray<uint64_t, 2, 3>;  // chunks of 4, 12 elements at most
  static_assert(Array::kCapacity == 12);
  auto* a = new Array;
  std::vector<uint64_t*> seen;
  for (uint32_t i = 0; i < 6; ++i) {
    uint64_t* p = a->Grow(i);
    ASSERT_NE(p, nullptr);
    *p = 100 + i;
    seen.push_back(p);
  }
  EXPECT_EQ(a->Find(7), a->At(7)) << "index 7 shares index 4's chunk";
  EXPECT_EQ(a->Find(8), nullptr) << "third chunk never made";
  EXPECT_EQ(a->Find(12), nullptr);
  EXPECT_EQ(a->Find(UINT32_MAX), nullptr);
  ASSERT_NE(a->Grow(11), nullptr);  // makes the third chunk, not the ones between
  EXPECT_NE(a->Find(8), nullptr);
  EXPECT_EQ(a->Grow(12), nullptr) << "past the capacity";
  for (uint32_t i = 0; i < 6; ++i) {
    EXPECT_EQ(a->At(i), seen[i]) << "moved";
    EXPECT_EQ(*a->At(i), 100 + i);
  }
  a->FreeAll();
  EXPECT_EQ(a->Find(0), nullptr);
  delete a;
}

struct Node {
  int id = 0;
  Node* next = nullptr;
  Node* prev = nullptr;
};
using NodeList = IntrusiveList<Node, &Node::next, &Node::prev>;

std::vector<int> Ids(const NodeList& l) {
  std::vector<int> out;
  for (Node* n = l.front(); n != nullptr; n = n->next) out.push_back(n->id);
  return out;
}

// IntrusiveList: FIFO order; an element unlinked from the front, the middle
// or the back leaves the rest in order and its own links cleared; the list
// ends empty with both ends reset (a push after it is the only element).
TEST(IntrusiveList, FifoAndUnlinkAnywhere) {
  Node n[5];
  NodeList l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.PopFront(), nullptr);
  for (int i = 0; i < 5; ++i) {
    n[i].id = i;
    l.PushBack(&n[i]);
  }
  EXPECT_EQ(Ids(l), (std::vector<int>{0, 1, 2, 3, 4}));
  l.Remove(&n[2]);  // middle
  EXPECT_EQ(n[2].next, nullptr);
  EXPECT_EQ(n[2].prev, nullptr);
  l.Remove(&n[4]);  // back
  l.Remove(&n[0]);  // front
  EXPECT_EQ(Ids(l), (std::vector<int>{1, 3}));
  l.PushBack(&n[4]);
  EXPECT_EQ(n[4].prev, &n[3]) << "the back was n[3] after removing n[4]";
  EXPECT_EQ(l.PopFront(), &n[1]);
  EXPECT_EQ(l.PopFront(), &n[3]);
  EXPECT_EQ(l.PopFront(), &n[4]);
  EXPECT_TRUE(l.empty());
  l.PushBack(&n[2]);
  EXPECT_EQ(n[2].prev, nullptr) << "an emptied list keeps no stale back";
  EXPECT_EQ(Ids(l), (std::vector<int>{2}));
}

TEST(HandleTable, LiveHandleResolvesAndFreedOneDoesNot) {
  static TableA table;
  uint64_t h = 0;
  auto* slot = table.Alloc(&h);
  ASSERT_NE(slot, nullptr);
  slot->obj.value = 7;
  EXPECT_EQ(h >> 56, 0xA1u);      // the tag
  EXPECT_EQ((h >> 32) & 1u, 1u);  // a live generation is odd
  ASSERT_EQ(table.Lookup(h), &slot->obj);
  EXPECT_EQ(table.Lookup(h)->value, 7);
  table.Free(h);
  EXPECT_EQ(table.Lookup(h), nullptr);
  // The slot is reused under a new generation; the old handle stays dead.
  uint64_t h2 = 0;
  auto* again = table.Alloc(&h2);
  ASSERT_EQ(again, slot);
  EXPECT_NE(h2, h);
  EXPECT_EQ(static_cast<uint32_t>(h2), static_cast<uint32_t>(h));  // same index
  EXPECT_EQ(table.Lookup(h), nullptr);
  EXPECT_EQ(table.Lookup(h2), &slot->obj);
  table.Free(h2);
}

TEST(HandleTable, ForgedAndForeignHandlesResolveToNothing) {
  static TableA a;
  static TableB b;
  uint64_t ha = 0, hb = 0;
  ASSERT_NE(a.Alloc(&ha), nullptr);
  ASSERT_NE(b.Alloc(&hb), nullptr);
  EXPECT_EQ(a.Lookup(hb), nullptr);  // another table's tag
  EXPECT_EQ(b.Lookup(ha), nullptr);
  const uint64_t index = static_cast<uint32_t>(ha);
  const uint64_t forged[] = {
      0,
      ~uint64_t{0},
      index,                                       // high half 0
      ha ^ (uint64_t{1} << 32),                    // even generation (a free slot's)
      ha + (uint64_t{2} << 32),                    // another live-looking generation
      (ha & ~uint64_t{0xFFFFFFFF}) | 0xFFFFFFFFu,  // an index far past any chunk
      (ha & ~uint64_t{0xFFFFFFFF}) | 5000u,        // a chunk never allocated
  };
  for (uint64_t f : forged) EXPECT_EQ(a.Lookup(f), nullptr) << std::hex << f;
  a.Free(ha);
  // A freed slot's own key (its even generation) does not name it either.
  EXPECT_EQ(a.Lookup(ha + (uint64_t{1} << 32)), nullptr);
  EXPECT_EQ(a.Lookup(ha), nullptr);
  b.Free(hb);
}

TEST(HandleTable, GenerationWrapsWithoutTouchingTheTag) {
  static TableA table;
  uint64_t h = 0;
  auto* slot = table.Alloc(&h);
  ASSERT_NE(slot, nullptr);
  table.Free(h);
  // 2^23 reuses bring the 24-bit generation round; every handle keeps the tag
  // and an odd generation while live.
  uint64_t first = 0;
  for (uint32_t i = 0; i < (1u << 23) + 2; ++i) {
    uint64_t hi = 0;
    ASSERT_EQ(table.Alloc(&hi), slot);
    if (i == 0) first = hi;
    if ((hi >> 56) != 0xA1u || ((hi >> 32) & 1u) != 1u) {
      FAIL() << "reuse " << i << " made handle " << std::hex << hi;
    }
    ASSERT_EQ(table.Lookup(hi), &slot->obj);
    table.Free(hi);
  }
  // After the wrap a very old handle may name the slot again: documented
  // (handle_table.h); a freed one right now does not.
  EXPECT_EQ(table.Lookup(first), nullptr);
}

TEST(HandleTable, StillNamesOnlyTheSlotsCurrentObject) {
  static TableA table;
  uint64_t h = 0;
  auto* slot = table.Alloc(&h);
  ASSERT_NE(slot, nullptr);
  EXPECT_TRUE(TableA::StillNames(&slot->obj, h));
  table.Free(h);
  EXPECT_FALSE(TableA::StillNames(&slot->obj, h)) << "freed";
  uint64_t h2 = 0;
  ASSERT_EQ(table.Alloc(&h2), slot);
  EXPECT_FALSE(TableA::StillNames(&slot->obj, h)) << "freed and reused";
  EXPECT_TRUE(TableA::StillNames(&slot->obj, h2));
  table.Free(h2);
}

// The submit lock: threads that find it held sleep (Linux: the futex path)
// and each unlock lets exactly one in.
TEST(PlatformLock, ExcludesAndWakesTheThreadsItMadeSleep) {
  platform::Lock lock;
  lock.lock();
  std::thread([&] { EXPECT_FALSE(lock.try_lock()) << "taken while held"; }).join();
  constexpr int kThreads = 4;
  std::atomic<int> started{0};
  std::atomic<int> inside{0};
  std::atomic<int> entered{0};
  std::atomic<int> most_inside{0};
  long counter = 0;  // plain: the lock is what orders it (TSan checks)
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      started.fetch_add(1);
      for (int i = 0; i < 20000; ++i) {
        lock.lock();
        int now = inside.fetch_add(1) + 1;
        int seen = most_inside.load();
        while (now > seen && !most_inside.compare_exchange_weak(seen, now)) {
        }
        if (i == 0) entered.fetch_add(1);
        ++counter;
        inside.fetch_sub(1);
        lock.unlock();
      }
    });
  }
  // Held while every thread has started and called lock(): none gets in, and
  // (Linux) they sleep on the futex word, so the unlock below must wake them.
  while (started.load() < kThreads) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(entered.load(), 0) << "a thread got past a held lock";
#ifdef __linux__
  EXPECT_TRUE(lock.Sleepers()) << "no thread went to sleep on the held lock";
#endif
  lock.unlock();
  for (auto& t : ts) t.join();
  EXPECT_EQ(entered.load(), kThreads);
  EXPECT_EQ(most_inside.load(), 1) << "two threads inside at once";
  EXPECT_EQ(counter, long{kThreads} * 20000);
  EXPECT_TRUE(lock.try_lock());
  lock.unlock();
}

uint64_t WordOf(const Request& r) { return r.word.load(); }

TEST(RequestTransitions, SubmitPathOneStoreEach) {
  Request r;
  r.word.store(MakeWord(41, kPrepared));
  r.Claim(WordOf(r));
  EXPECT_EQ(StateOf(WordOf(r)), kClaimed);
  EXPECT_EQ(SeqOf(WordOf(r)), 41u);
  r.Unclaim();
  EXPECT_EQ(StateOf(WordOf(r)), kPrepared);
  r.Claim(WordOf(r));
  EXPECT_EQ(r.NextSeq32(), 42u);
  r.Publish();
  EXPECT_EQ(StateOf(WordOf(r)), kSubmitted);
  EXPECT_EQ(SeqOf(WordOf(r)), 42u);  // a new submission, a new number
  r.Withdraw();
  EXPECT_EQ(StateOf(WordOf(r)), kClaimed);
  EXPECT_EQ(SeqOf(WordOf(r)), 42u);
}

TEST(RequestTransitions, HoldForCancelOnlyTakesTheNamedSubmission) {
  Request r;
  r.word.store(MakeWord(7, kSubmitted));
  uint64_t now = 0;
  EXPECT_FALSE(r.HoldForCancel(MakeWord(6, kSubmitted), &now));  // an older one
  EXPECT_EQ(now, MakeWord(7, kSubmitted));
  const uint64_t w = WordOf(r);
  ASSERT_TRUE(r.HoldForCancel(w, &now));
  EXPECT_EQ(StateOf(WordOf(r)), kCancelling);
  EXPECT_FALSE(r.HoldForCancel(w, &now));  // a second canceller sees the hold
  EXPECT_EQ(StateOf(now), kCancelling);
  r.Unhold(w);
  EXPECT_EQ(WordOf(r), w);
  ASSERT_TRUE(r.HoldForCancel(w, &now));
  r.Finishing(w);
  EXPECT_EQ(StateOf(WordOf(r)), kFinishing);
  r.MarkCompleted(w);
  EXPECT_EQ(WordOf(r), MakeWord(7, kCompleted));
}

TEST(RequestTransitions, CompletionOfAStaleSubmissionIsRefused) {
  Request r;
  r.word.store(MakeWord(9, kSubmitted));
  uint64_t w = 0;
  EXPECT_FALSE(TakeForCompletion(&r, 8, &w));  // an event of submission 8
  EXPECT_EQ(StateOf(WordOf(r)), kSubmitted);
  ASSERT_TRUE(TakeForCompletion(&r, 9, &w));
  EXPECT_EQ(StateOf(WordOf(r)), kFinishing);
  EXPECT_FALSE(TakeForCompletion(&r, 9, &w));  // only once
}

// HoldSubmitted makes r submission seq, held by a canceller (kCancelling),
// and returns its submitted word.
uint64_t HoldSubmitted(Request* r, uint64_t seq) {
  const uint64_t w = MakeWord(seq, kSubmitted);
  r->word.store(w);
  uint64_t now = 0;
  EXPECT_TRUE(r->HoldForCancel(w, &now));
  return w;
}

// A completion that meets a canceller's hold waits for its verdict: the
// canceller gives the request back (the host did not withdraw it) and the
// completion takes it, or the canceller completes it and the completion is
// stale. Both outcomes happen and exactly one side ever completes.
TEST(RequestTransitions, CompletionWaitsForTheCancellersVerdict) {
  int by_completion = 0, by_cancel = 0;
  for (int round = 0; round < 400; ++round) {
    Request r;
    const uint64_t w = HoldSubmitted(&r, 100 + round);
    std::atomic<bool> took{false};
    std::thread reaper([&] {
      uint64_t got = 0;
      took = TakeForCompletion(&r, static_cast<uint32_t>(SeqOf(w)), &got);
    });
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    // While held, the completion must not have taken it.
    ASSERT_EQ(StateOf(WordOf(r)), kCancelling);
    const bool withdrawn = (round % 2) == 0;
    if (withdrawn) {
      r.Finishing(w);
      r.MarkCompleted(w);
    } else {
      r.Unhold(w);
    }
    reaper.join();
    if (took) {
      ++by_completion;
      EXPECT_FALSE(withdrawn);
      EXPECT_EQ(StateOf(WordOf(r)), kFinishing);
    } else {
      ++by_cancel;
      EXPECT_TRUE(withdrawn);
      EXPECT_EQ(StateOf(WordOf(r)), kCompleted);
    }
  }
  EXPECT_EQ(by_completion, 200);
  EXPECT_EQ(by_cancel, 200);
}

// A reaper about to move past a completion in a ring a canceller reads
// (io_uring's) waits for the canceller's verdict on that submission, and only
// on that one: whichever way the canceller decides, the wait ends then.
TEST(RequestTransitions, ReaperAwaitsTheCancellersVerdictOnItsSubmissionOnly) {
  for (int round = 0; round < 40; ++round) {
    Request r;
    const uint64_t w = HoldSubmitted(&r, 500 + round);
    AwaitCancelVerdict(&r, static_cast<uint32_t>(SeqOf(w)) - 1);  // another submission's: at once
    std::atomic<bool> returned{false};
    std::thread reaper([&] {
      AwaitCancelVerdict(&r, static_cast<uint32_t>(SeqOf(w)));
      returned = true;
    });
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ASSERT_FALSE(returned.load()) << "the reaper moved on while the canceller held the request";
    if ((round % 2) == 0) {
      r.Unhold(w);  // the host did not withdraw it
    } else {
      r.Finishing(w);  // it did: the canceller completes it
      r.MarkCompleted(w);
    }
    reaper.join();
    EXPECT_TRUE(returned.load());
  }
}

// A host completion's result is the bytes moved, or minus the host's code.
TEST(HostCompletion, ResultIsBytesOrMinusTheHostsCode) {
  EXPECT_EQ(HostResult(0, 4096), 4096);
  EXPECT_EQ(HostResult(0, 0), 0);
  EXPECT_EQ(HostResult(0, kMaxTransfer), static_cast<int32_t>(kMaxTransfer));
  EXPECT_EQ(HostResult(EIO, 512), -EIO);  // bytes of a failed transfer are not kept
  EXPECT_LT(kHostTimedOut, -4096);        // never an error code
}

TEST(RequestTransitions, PreparableStatesAreTheCallersOwn) {
  EXPECT_TRUE(Preparable(kIdle));
  EXPECT_TRUE(Preparable(kPrepared));
  EXPECT_TRUE(Preparable(kCompleted));
  for (State s : {kClaimed, kSubmitted, kCancelling, kFinishing, kDead}) {
    EXPECT_FALSE(Preparable(s)) << static_cast<int>(s);
  }
}

// A scripted host under a real context: Enqueue records what it was given,
// Reap hands out the raw completions the test queued, and records what the
// core asked for. It never blocks; the tests wait with deadlines.
class ScriptedHost final : public Backend {
 public:
  const char* name() const override { return "scripted"; }
  uint32_t capacity() const override { return 128; }
  size_t Enqueue(Request* const*, size_t n, int*) override { return n; }
  void Commit() override {}
  size_t Reap(HostCompletion* out, size_t max, bool block, Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu);
    asks.emplace_back(max, block);
    size_t n = 0;
    while (n < max && !ready.empty()) {
      out[n++] = ready.front();
      ready.pop_front();
    }
    return n;
  }
  void Kick() override {}
  CancelOutcome Cancel(Request*, uint32_t) override { return CancelOutcome::kCancelled; }

  // The test's side.
  void Complete(faio_req* h, int32_t result, uint32_t seq_back = 0) {
    Request* r = LookupRequest(h);
    std::lock_guard<std::mutex> lock(mu);
    ready.push_back(HostCompletion{r, r->seq32 - seq_back, result});
  }
  std::mutex mu;
  std::deque<HostCompletion> ready;
  std::vector<std::pair<size_t, bool>> asks;  // (max, block) of each Reap
};

// A context over a ScriptedHost, with n requests prepared to read. The host
// never looks at the file, so any value names it.
struct Scripted {
  explicit Scripted(size_t n) : reqs(n) {
    faio_ctx_options o{};
    o.size = sizeof o;
    o.capacity = 128;
    auto make = [](const BackendParams&, void* self) -> std::unique_ptr<Backend> {
      auto h = std::make_unique<ScriptedHost>();
      static_cast<Scripted*>(self)->host = h.get();
      return h;
    };
    EXPECT_EQ(CreateContextOver(o, make, this, &ctx), FAIO_OK);
    for (faio_req*& r : reqs) {
      EXPECT_EQ(faio_req_create(&r), FAIO_OK);
      EXPECT_EQ(faio_req_prepare_read(r, faio_file{}, 0, buf, sizeof buf, nullptr), FAIO_OK);
    }
  }
  ~Scripted() {
    for (faio_req* r : reqs) faio_req_destroy(r);
    EXPECT_EQ(faio_ctx_destroy(ctx), FAIO_OK);
  }
  std::vector<faio_req*> reqs;
  char buf[512];
  faio_ctx* ctx = nullptr;
  ScriptedHost* host = nullptr;
};

// Host codes for an I/O error and a full disk: errno values, or Windows
// errors (ERROR_IO_DEVICE, ERROR_DISK_FULL) where the host speaks those.
#ifdef _WIN32
constexpr int kHostIoError = 1117;
constexpr int kHostDiskFull = 112;
#else
constexpr int kHostIoError = EIO;
constexpr int kHostDiskFull = ENOSPC;
#endif

// The core turns each raw result into the outcome, in one place: bytes, a
// host code mapped to its status (the code kept), the host's deadline, and an
// event of an older submission dropped.
TEST(HostCompletion, TheCoreTurnsRawResultsIntoOutcomes) {
  Scripted s(5);
  ASSERT_EQ(faio_ctx_submit(s.ctx, s.reqs.data(), 5), FAIO_OK);
  s.host->Complete(s.reqs[4], 77, 1);  // stale: the submission before this one
  s.host->Complete(s.reqs[0], 512);
  s.host->Complete(s.reqs[1], -kHostIoError);
  s.host->Complete(s.reqs[2], -kHostDiskFull);
  s.host->Complete(s.reqs[3], kHostTimedOut);
  s.host->Complete(s.reqs[4], 100);
  faio_req* out[8];
  uint32_t count = 0;
  ASSERT_EQ(faio_ctx_wait(s.ctx, 5, 1000, out, 8, &count), FAIO_OK);
  ASSERT_EQ(count, 5u);
  struct Want {
    int status;
    int host_error;
    size_t bytes;
  };
  const Want want[5] = {{FAIO_OK, 0, 512},
                        {FAIO_E_IO, kHostIoError, 0},
                        {FAIO_E_DISK_FULL, kHostDiskFull, 0},
                        {FAIO_E_TIMEOUT, 0, 0},
                        {FAIO_OK, 0, 100}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i], s.reqs[i]);  // in the host's order, the stale one gone
    size_t bytes = 99;
    EXPECT_EQ(faio_req_result(s.reqs[i], &bytes), want[i].status) << i;
    EXPECT_EQ(faio_req_host_error(s.reqs[i]), want[i].host_error) << i;
    EXPECT_EQ(bytes, want[i].bytes) << i;
  }
}

// The core never asks a backend for more than the caller's array holds, and
// a full chunk of it is followed at once by a sweep that does not block.
TEST(HostCompletion, TheCoreAsksForNoMoreThanTheCallerHasRoomFor) {
  Scripted s(100);
  ASSERT_EQ(faio_ctx_submit(s.ctx, s.reqs.data(), 100), FAIO_OK);
  for (faio_req* r : s.reqs) s.host->Complete(r, 512);
  std::vector<faio_req*> out(100);
  uint32_t count = 0;
  ASSERT_EQ(faio_ctx_wait(s.ctx, 1, 1000, out.data(), 10, &count), FAIO_OK);
  EXPECT_EQ(count, 10u);
  ASSERT_EQ(s.host->asks.size(), 1u);
  EXPECT_EQ(s.host->asks[0], std::make_pair(size_t{10}, true));
  s.host->asks.clear();
  // 90 ready, room for 100: a chunk of 64 (the one call that may block),
  // then the rest at once.
  ASSERT_EQ(faio_ctx_wait(s.ctx, 1, 1000, out.data(), 100, &count), FAIO_OK);
  EXPECT_EQ(count, 90u);
  ASSERT_EQ(s.host->asks.size(), 2u);
  EXPECT_EQ(s.host->asks[0], std::make_pair(size_t{64}, true));
  EXPECT_EQ(s.host->asks[1], std::make_pair(size_t{36}, false));
}

// A request its canceller withdrew is not handed out again when the host's
// late event for it comes: the core drops that event.
TEST(HostCompletion, AnEventOfACancelledSubmissionIsDropped) {
  Scripted s(2);
  ASSERT_EQ(faio_ctx_submit(s.ctx, s.reqs.data(), 2), FAIO_OK);
  ASSERT_EQ(faio_req_cancel(s.reqs[0]), FAIO_OK);
  EXPECT_EQ(faio_req_result(s.reqs[0], nullptr), FAIO_E_CANCELLED);
  s.host->Complete(s.reqs[0], -ECANCELED);  // the host's own event, late
  s.host->Complete(s.reqs[1], 512);
  faio_req* out[4];
  uint32_t count = 0;
  ASSERT_EQ(faio_ctx_wait(s.ctx, 1, 1000, out, 4, &count), FAIO_OK);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0], s.reqs[1]);
  EXPECT_EQ(faio_req_result(s.reqs[0], nullptr), FAIO_E_CANCELLED);
}

}  // namespace
}  // namespace faio::detail
