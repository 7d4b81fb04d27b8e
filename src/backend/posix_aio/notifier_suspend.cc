// notifier_suspend.cc - SIGEV_NONE + aio_suspend (see notifier.h).
//
// The waiter finds completions itself: aio_error on every aiocb in flight, and
// when none is done it blocks in aio_suspend on all of them. What remains is to
// end that aio_suspend early - for faio_ctx_wakeup, and for a request submitted
// while it blocks (aio_suspend watches a fixed list). How depends on the host:
//
// Linux (glibc): a signal aimed at the waiting thread. aio_suspend then fails
// with EINTR. The wakeup holds no AIO request, no thread and no descriptor; a
// context costs nothing of the host's here (docs/backends.md, What a context
// costs). It used to park an aio_read of an eventfd instead, which occupied one
// of glibc's 20 AIO threads per context: from the 20th context on no request
// completed (issue 19, item 1).
//   - The signal is kWakeSignal (SIGRTMAX - 2), with a handler that does
//     nothing, installed without SA_RESTART (so the futex wait inside
//     aio_suspend returns EINTR instead of restarting). The waiter unblocks it
//     for the time it blocks, in case its thread blocks it.
//   - A signal that lands between the waiter's last look at the wake flag and
//     the system call that blocks would be lost (the handler runs, the call
//     then blocks anyway). So the interrupter arms a per-thread POSIX timer
//     (SIGEV_THREAD_ID) that fires at once and then every kRepeat until the
//     waiter, back from aio_suspend, disarms it: the first expiry that finds it
//     blocked ends the wait. timer_settime is async-signal-safe, as
//     faio_ctx_wakeup must be. Without a timer (timer_create refused: the
//     RLIMIT_SIGPENDING share is used up) the interrupter sends one tgkill and
//     the waiter blocks at most kFallbackSlice at a time, so a wakeup lost in
//     that window costs at most that.
//   - The waiter publishes itself (waiter_) before it looks at the wake flag,
//     the waker sets the flag before it looks at waiter_ (both sequentially
//     consistent): at least one of them sees the other. A waker in the middle
//     of Interrupt is counted (wakers_); the waiter, leaving, unpublishes
//     itself and waits for that count to reach zero before it disarms the
//     timer and takes any signal still pending (sigtimedwait, zero timeout),
//     so no signal of faio's reaches the thread once its wait has returned.
//
// Elsewhere: a pipe whose read end carries a parked aio_read that the wakeup
// completes with a write (one descriptor pair and one host AIO request per
// context).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#endif

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <new>
#include <string>
#include <vector>

#include "backend/backend_util.h"
#include "backend/posix_aio/notifier.h"

namespace faio::detail {
namespace {

struct Entry {
  const struct aiocb* cb;
  void* cookie;
};

// Pending is the list of aiocbs in flight, shared by both wakeup mechanisms.
// Its generation changes with every add and every take (the pollable handle's
// watcher waits for that).
class Pending {
 public:
  void Add(const struct aiocb* cb, void* cookie) {
    std::lock_guard<std::mutex> lock(mu_);
    list_.push_back(Entry{cb, cookie});
    Changed();
  }
  // Moves up to max cookies of finished aiocbs into cookies.
  size_t TakeDone(void** cookies, size_t max) {
    size_t n = 0;
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < list_.size() && n < max;) {
      if (aio_error(list_[i].cb) != EINPROGRESS) {
        cookies[n++] = list_[i].cookie;
        list_[i] = list_.back();
        list_.pop_back();
      } else {
        ++i;
      }
    }
    if (n > 0) Changed();
    return n;
  }
  void Snapshot(std::vector<const struct aiocb*>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    out->clear();
    for (const Entry& e : list_) out->push_back(e.cb);
  }
  // SnapshotForWatch: Snapshot, the generation, and whether one of them is done.
  bool SnapshotForWatch(std::vector<const struct aiocb*>* out, uint64_t* gen) {
    std::lock_guard<std::mutex> lock(mu_);
    out->clear();
    bool done = false;
    for (const Entry& e : list_) {
      out->push_back(e.cb);
      if (!done && aio_error(e.cb) != EINPROGRESS) done = true;
    }
    *gen = gen_;
    watched_ = true;
    return done;
  }
  // WaitChange blocks until the generation is not gen any more, or stop.
  void WaitChange(uint64_t gen, const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return gen_ != gen || stop.load(std::memory_order_acquire); });
  }
  void Poke() {
    std::lock_guard<std::mutex> lock(mu_);
    changed_.notify_all();
  }

 private:
  void Changed() {  // under mu_
    ++gen_;
    if (watched_) changed_.notify_all();
  }

  std::mutex mu_;
  std::vector<Entry> list_;  // guarded by mu_
  uint64_t gen_ = 0;         // guarded by mu_
  bool watched_ = false;     // guarded by mu_: a watcher exists
  std::condition_variable changed_;
};

#if defined(__linux__)

constexpr auto kRepeat = std::chrono::milliseconds(1);
constexpr auto kFallbackSlice = std::chrono::milliseconds(10);

int WakeSignal() { return SIGRTMAX - 2; }

void OnWakeSignal(int) {}  // its only job is to make aio_suspend fail with EINTR

// A forked child inherits the forking thread's Waiter but not its timer (POSIX
// timers are not inherited) nor its thread id: the generation tells Init to
// start over.
std::atomic<uint32_t> g_fork_generation{0};
void AfterForkInChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// InstallHandler installs OnWakeSignal once per process. Fails when the
// application has its own handler for the signal.
bool InstallHandler(Unavailable* why) {
  static std::once_flag once;
  static int result = 0;  // 0, or the errno / -1 for "taken"
  std::call_once(once, [] {
    struct sigaction old;
    if (sigaction(WakeSignal(), nullptr, &old) != 0) {
      result = errno;
      return;
    }
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
      result = -1;
      return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnWakeSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the blocked aio_suspend must fail with EINTR
    if (sigaction(WakeSignal(), &sa, nullptr) != 0) {
      result = errno;
      return;
    }
    pthread_atfork(nullptr, nullptr, AfterForkInChild);
  });
  if (result == 0) return true;
  why->status = FAIO_E_NOT_SUPPORTED;
  why->host_error = result > 0 ? result : 0;
  why->reason = result > 0 ? std::string("sigaction of the wakeup signal: ") + strerror(result)
                           : "the wakeup signal (SIGRTMAX-2) has a handler of the application's";
  return false;
}

// Waiter is a thread that blocks in Collect: how to interrupt it.
struct Waiter {
  pid_t pid = 0;
  pid_t tid = 0;
  uint32_t generation = 0;
  timer_t timer{};
  bool have_timer = false;
  std::atomic<bool> signalled{false};  // an interrupter armed the timer / sent a signal

  ~Waiter() {
    if (have_timer) timer_delete(timer);
  }

  // Called on the thread itself before it first blocks; retried while the
  // timer cannot be had.
  void Init() {
    uint32_t gen = g_fork_generation.load(std::memory_order_relaxed);
    if (gen != generation) {  // in a forked child: the timer is the parent's
      generation = gen;
      tid = 0;
      have_timer = false;
    }
    if (tid == 0) {
      pid = getpid();
      tid = static_cast<pid_t>(syscall(SYS_gettid));
    }
    if (have_timer) return;
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = WakeSignal();
    sev._sigev_un._tid = tid;
    have_timer = timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0;
  }

  // Any thread, async-signal-safe. Once armed, the timer repeats until
  // Quiesce: a second interrupter has nothing to add.
  void Interrupt() {
    if (signalled.exchange(true, std::memory_order_relaxed)) return;
    if (have_timer) {
      struct itimerspec its;
      memset(&its, 0, sizeof(its));
      its.it_value.tv_nsec = 1;
      its.it_interval.tv_nsec = std::chrono::nanoseconds(kRepeat).count();
      timer_settime(timer, 0, &its, nullptr);
    } else {
      syscall(SYS_tgkill, pid, tid, WakeSignal());
    }
  }

  // The thread itself, once no interrupter can reach it any more: stop the
  // timer and take a signal still pending, so that none reaches the caller.
  void Quiesce() {
    if (!signalled.exchange(false, std::memory_order_relaxed)) return;
    if (have_timer) {
      struct itimerspec off;
      memset(&off, 0, sizeof(off));
      timer_settime(timer, 0, &off, nullptr);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, WakeSignal());
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
  }
};

thread_local Waiter t_waiter;

class SuspendNotifier final : public AioNotifier {
 public:
  ~SuspendNotifier() override { StopWatching(); }

  void StopWatching() override {
    if (!watcher_thread_.joinable()) return;
    if (watcher_pid_ != getpid()) {  // a forked child: the thread is the parent's
      watcher_thread_.detach();
      return;
    }
    stop_.store(true, std::memory_order_seq_cst);
    pending_.Poke();
    Interrupt();
    watcher_thread_.join();
  }

  bool Init(Unavailable* why) { return InstallHandler(why); }

  // The pollable handle: a watcher thread of this context's own blocks in
  // aio_suspend on what is in flight and makes the handle ready when something
  // is done; it then waits until a wait has taken it (or more is submitted).
  // glibc offers no way to have the completion itself signal a descriptor that
  // a library may use (notifier.h). Started here, so a context never used
  // with an event loop has no thread.
  bool HasPollable() const override { return true; }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    notify_ = n;
    watcher_pid_ = getpid();
    try {
      watcher_thread_ = std::thread([this] { WatchLoop(); });
    } catch (const std::system_error&) {
      return FAIO_E_INSUFFICIENT_RESOURCES;
    }
    *out = n.wait;
    return FAIO_OK;
  }

  void Prepare(struct sigevent* sev, void*) override { sev->sigev_notify = SIGEV_NONE; }

  void Watch(void* cookie, const struct aiocb* cb) override {
    pending_.Add(cb, cookie);
    // A waiter blocked in aio_suspend does not watch this aiocb: make it look.
    Interrupt();
  }

  size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                 bool* woken) override {
    for (;;) {
      size_t n = pending_.TakeDone(cookies, max);
      if (wake_.exchange(false, std::memory_order_acq_rel)) *woken = true;
      if (n > 0 || !block || *woken || max == 0) return n;
      Waiter* me = &t_waiter;
      me->Init();
      // Publish, then look at the flag (see the file comment).
      waiter_.store(me, std::memory_order_seq_cst);
      pending_.Snapshot(&list_);
      int rc = 0, err = 0;
      sigset_t set, old;
      sigemptyset(&set);
      sigaddset(&set, WakeSignal());
      pthread_sigmask(SIG_UNBLOCK, &set, &old);
      if (!wake_.load(std::memory_order_seq_cst)) {
        Clock::time_point until = deadline;
        if (!me->have_timer && Clock::now() + kFallbackSlice < until) {
          until = Clock::now() + kFallbackSlice;
        }
        struct timespec ts;
        struct timespec* tsp = TimeLeft(until, &ts);
        if (list_.empty()) {
          rc = ppoll(nullptr, 0, tsp, nullptr);  // nothing in flight: sleep
          if (rc == 0) {
            rc = -1;
            errno = EAGAIN;
          }
        } else {
          rc = aio_suspend(list_.data(), static_cast<int>(list_.size()), tsp);
        }
        err = errno;
        if (rc != 0 && err == EAGAIN && until != deadline) rc = 0;  // slice over: look again
      }
      waiter_.store(nullptr, std::memory_order_seq_cst);
      while (wakers_.load(std::memory_order_seq_cst) != 0) sched_yield();
      me->Quiesce();
      if (sigismember(&old, WakeSignal())) pthread_sigmask(SIG_SETMASK, &old, nullptr);
      // EINTR: an interrupter (or a signal of the caller's): look again.
      if (rc != 0 && err == EAGAIN) block = false;  // timed out: one last look
    }
  }

  // Any thread; async-signal-safe (atomics, timer_settime or tgkill).
  void Wake() override {
    wake_.store(true, std::memory_order_seq_cst);
    Interrupt();
  }

 private:
  void Interrupt() {
    wakers_.fetch_add(1, std::memory_order_seq_cst);
    Waiter* w = waiter_.load(std::memory_order_seq_cst);
    if (w != nullptr) w->Interrupt();
    Waiter* x = watcher_.load(std::memory_order_seq_cst);
    if (x != nullptr) x->Interrupt();
    wakers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  // The watcher thread (WatchPollable). It publishes itself before it looks at
  // the list and at stop_, as the waiter does, so Watch's and the destructor's
  // Interrupt reach it in aio_suspend.
  void WatchLoop() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, WakeSignal());
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);  // the thread is ours
    Waiter* me = &t_waiter;
    std::vector<const struct aiocb*> list;
    while (!stop_.load(std::memory_order_seq_cst)) {
      me->Init();
      watcher_.store(me, std::memory_order_seq_cst);
      uint64_t gen = 0;
      bool done = pending_.SnapshotForWatch(&list, &gen);
      bool wait_change = false;
      if (stop_.load(std::memory_order_seq_cst)) {
        // leaving
      } else if (done) {
        platform::SignalNotify(notify_);
        wait_change = true;
      } else {
        struct timespec slice = {0, 10 * 1000 * 1000};  // without a timer: look again
        struct timespec* tsp = me->have_timer ? nullptr : &slice;
        if (list.empty()) {
          ppoll(nullptr, 0, tsp, nullptr);
        } else {
          aio_suspend(list.data(), static_cast<int>(list.size()), tsp);
        }
      }
      watcher_.store(nullptr, std::memory_order_seq_cst);
      while (wakers_.load(std::memory_order_seq_cst) != 0) sched_yield();
      me->Quiesce();
      // Done ones stay in the list until a wait takes them: wait for that (or
      // for a submit) instead of finding them again at once.
      if (wait_change) pending_.WaitChange(gen, stop_);
    }
  }

  Pending pending_;
  std::vector<const struct aiocb*> list_;  // the waiter's only
  std::atomic<bool> wake_{false};
  std::atomic<Waiter*> waiter_{nullptr};
  std::atomic<Waiter*> watcher_{nullptr};
  std::atomic<int> wakers_{0};
  platform::Notify notify_;  // set before the watcher starts
  std::thread watcher_thread_;
  pid_t watcher_pid_ = 0;  // the process that started it (fork)
  std::atomic<bool> stop_{false};
};

#else  // !__linux__

class SuspendNotifier final : public AioNotifier {
 public:
  ~SuspendNotifier() override {
    if (wake_armed_) {
      // Complete the wake read so its aiocb can go.
      Poke();
      const struct aiocb* one[1] = {&wake_cb_};
      while (aio_error(&wake_cb_) == EINPROGRESS) aio_suspend(one, 1, nullptr);
      aio_return(&wake_cb_);
    }
    if (wake_rd_ >= 0) close(wake_rd_);
    if (wake_wr_ >= 0) close(wake_wr_);
  }

  bool Init(Unavailable* why) {
    int p[2];
    if (pipe(p) != 0) {
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = errno;
      why->reason = std::string("wakeup descriptor: ") + strerror(errno);
      return false;
    }
    wake_rd_ = p[0];
    wake_wr_ = p[1];
    wake_armed_ = ArmWake();
    if (!wake_armed_) {
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = errno;
      why->reason = std::string("aio_read of the wakeup descriptor: ") + strerror(errno);
      return false;
    }
    return true;
  }

  void Prepare(struct sigevent* sev, void*) override { sev->sigev_notify = SIGEV_NONE; }

  void Watch(void* cookie, const struct aiocb* cb) override {
    pending_.Add(cb, cookie);
    std::lock_guard<std::mutex> lock(mu_);
    // A waiter blocked in aio_suspend does not watch this aiocb: make it look.
    if (suspended_ && !poked_) {
      poked_ = true;
      Poke();
    }
  }

  size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                 bool* woken) override {
    for (;;) {
      size_t n = pending_.TakeDone(cookies, max);
      if (wake_armed_ && aio_error(&wake_cb_) != EINPROGRESS) {
        aio_return(&wake_cb_);
        wake_armed_ = false;
        *woken = true;
      }
      if (!wake_armed_) wake_armed_ = ArmWake();
      if (n > 0 || !block || *woken || max == 0) return n;
      {
        std::lock_guard<std::mutex> lock(mu_);
        suspended_ = true;
        poked_ = false;
      }
      pending_.Snapshot(&list_);
      if (wake_armed_) list_.push_back(&wake_cb_);
      struct timespec ts;
      struct timespec* tsp = TimeLeft(deadline, &ts);
      int rc = list_.empty() ? -1 : aio_suspend(list_.data(), static_cast<int>(list_.size()), tsp);
      if (list_.empty()) errno = EAGAIN;
      int err = errno;
      {
        std::lock_guard<std::mutex> lock(mu_);
        suspended_ = false;
      }
      if (rc != 0 && err == EAGAIN) block = false;  // timed out: one last look
      if (rc != 0 && err == EINTR) block = false;   // the core's loop decides
    }
  }

  void Wake() override { Poke(); }

 private:
  void Poke() {
    char one = 1;
    ssize_t r = write(wake_wr_, &one, 1);
    (void)r;
  }

  // Reaper only (and Init): a read of the wake pipe, completed by Poke.
  bool ArmWake() {
    memset(&wake_cb_, 0, sizeof(wake_cb_));
    wake_cb_.aio_fildes = wake_rd_;
    wake_cb_.aio_buf = wake_buf_;
    wake_cb_.aio_nbytes = sizeof(wake_buf_);
    wake_cb_.aio_sigevent.sigev_notify = SIGEV_NONE;
    return aio_read(&wake_cb_) == 0;
  }

  Pending pending_;
  int wake_rd_ = -1;
  int wake_wr_ = -1;
  struct aiocb wake_cb_;
  char wake_buf_[64];
  bool wake_armed_ = false;                // reaper only
  std::vector<const struct aiocb*> list_;  // reaper only
  std::mutex mu_;
  bool suspended_ = false;  // guarded by mu_
  bool poked_ = false;      // guarded by mu_
};

#endif  // __linux__

}  // namespace

std::unique_ptr<AioNotifier> MakeSuspendNotifier(Unavailable* why) {
  return MakeWithInit<SuspendNotifier>(why);
}

}  // namespace faio::detail
