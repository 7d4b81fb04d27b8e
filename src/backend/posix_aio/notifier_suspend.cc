// notifier_suspend.cc - SIGEV_NONE + aio_suspend (see notifier.h).
#include <errno.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "backend/backend_util.h"
#include "backend/posix_aio/notifier.h"

namespace faio::detail {
namespace {

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
    if (wake_wr_ >= 0 && wake_wr_ != wake_rd_) close(wake_wr_);
  }

  bool Init(Unavailable* why) {
#if defined(__linux__)
    wake_rd_ = wake_wr_ = eventfd(0, EFD_CLOEXEC);
    if (wake_rd_ < 0) {
#else
    int p[2];
    if (pipe(p) == 0) {
      wake_rd_ = p[0];
      wake_wr_ = p[1];
    } else {
#endif
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = errno;
      why->reason = std::string("wakeup descriptor: ") + strerror(errno);
      return false;
    }
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
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(Entry{cb, cookie});
    // A waiter blocked in aio_suspend does not watch this aiocb: make it look.
    if (suspended_ && !poked_) {
      poked_ = true;
      Poke();
    }
  }

  size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                 bool* woken) override {
    size_t n = 0;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (size_t i = 0; i < pending_.size() && n < max;) {
          if (aio_error(pending_[i].cb) != EINPROGRESS) {
            cookies[n++] = pending_[i].cookie;
            pending_[i] = pending_.back();
            pending_.pop_back();
          } else {
            ++i;
          }
        }
      }
      if (wake_armed_ && aio_error(&wake_cb_) != EINPROGRESS) {
        aio_return(&wake_cb_);
        wake_armed_ = false;
        *woken = true;
      }
      if (!wake_armed_) wake_armed_ = ArmWake();
      if (n > 0 || !block || *woken || n == max) return n;
      // Block on everything in flight and the wake read.
      {
        std::lock_guard<std::mutex> lock(mu_);
        list_.clear();
        for (const Entry& e : pending_) list_.push_back(e.cb);
        suspended_ = true;
        poked_ = false;
      }
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
  struct Entry {
    const struct aiocb* cb;
    void* cookie;
  };

  void Poke() {
    uint64_t one = 1;
    ssize_t r = write(wake_wr_, &one, sizeof(one));
    (void)r;
  }

  // Reaper only (and Init): a read of the wake descriptor, completed by Poke.
  bool ArmWake() {
    memset(&wake_cb_, 0, sizeof(wake_cb_));
    wake_cb_.aio_fildes = wake_rd_;
    wake_cb_.aio_buf = &wake_buf_;
    wake_cb_.aio_nbytes = sizeof(wake_buf_);
    wake_cb_.aio_sigevent.sigev_notify = SIGEV_NONE;
    return aio_read(&wake_cb_) == 0;
  }

  int wake_rd_ = -1;
  int wake_wr_ = -1;
  struct aiocb wake_cb_;
  uint64_t wake_buf_ = 0;
  bool wake_armed_ = false;                // reaper only
  std::vector<const struct aiocb*> list_;  // reaper only

  std::mutex mu_;
  std::vector<Entry> pending_;  // guarded by mu_
  bool suspended_ = false;      // guarded by mu_
  bool poked_ = false;          // guarded by mu_
};

}  // namespace

std::unique_ptr<AioNotifier> MakeSuspendNotifier(Unavailable* why) {
  return MakeWithInit<SuspendNotifier>(why);
}

}  // namespace faio::detail
