// notifier_kqueue.cc - SIGEV_KEVENT notification into a kqueue (FreeBSD).
//
// With SIGEV_KEVENT the kernel posts an EVFILT_AIO event whose ident is the
// aiocb pointer and whose udata is sigev_value.sival_ptr (our cookie). The
// wakeup is an EVFILT_USER event registered with EV_CLEAR and fired with
// NOTE_TRIGGER: it stays pending until a kevent() call returns it, so a wakeup
// sent before the waiter blocks is not lost, and several coalesce into one.
//
// The pollable handle (faio_ctx_pollable) is the kqueue descriptor itself: it
// polls readable while events are pending (kqueue(2); kqueue_poll), so a
// finished job makes it ready with no extra work. What the core signals
// (wakeups, requests it completes itself) triggers a second EVFILT_USER event,
// kPollIdent, which Collect takes and triggers again (the handle stays ready
// until the next reset, as an eventfd would); each wait re-arms the handle by
// deleting and adding both user events (one kevent call): the core's flags, not
// the triggers, say whether a wakeup or a local completion is pending.
#include <errno.h>
#include <string.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <new>
#include <string>

#include "backend/backend_util.h"
#include "backend/posix_aio/notifier.h"

namespace faio::detail {
namespace {

constexpr uintptr_t kWakeIdent = 1;
constexpr uintptr_t kPollIdent = 2;

class KqueueNotifier final : public AioNotifier {
 public:
  ~KqueueNotifier() override {
    if (kq_ >= 0) close(kq_);
  }

  bool Init(Unavailable* why) {
    kq_ = kqueue();
    if (kq_ < 0) {
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = errno;
      why->reason = std::string("kqueue() failed: ") + strerror(errno);
      return false;
    }
    struct kevent ev;
    EV_SET(&ev, kWakeIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    if (kevent(kq_, &ev, 1, nullptr, 0, nullptr) < 0) {
      why->status = FAIO_E_NOT_SUPPORTED;
      why->host_error = errno;
      why->reason = std::string("EVFILT_USER unavailable: ") + strerror(errno);
      return false;
    }
    return true;
  }

  void Watch(void*, const struct aiocb*) override {}

  void Prepare(struct sigevent* sev, void* cookie) override {
    sev->sigev_notify = SIGEV_KEVENT;
    sev->sigev_notify_kqueue = kq_;
    sev->sigev_value.sival_ptr = cookie;
  }

  size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                 bool* woken) override {
    struct kevent evs[64];
    int room = static_cast<int>(max < 64 ? max : 64);  // never more than the caller holds
    struct timespec ts = {0, 0};
    struct timespec* tsp = block ? TimeLeft(deadline, &ts) : &ts;
    int got = kevent(kq_, nullptr, 0, evs, room, tsp);
    if (got < 0) return 0;  // EINTR: the core's loop decides
    size_t n = 0;
    for (int i = 0; i < got; ++i) {
      if (evs[i].filter == EVFILT_USER) {
        if (evs[i].ident == kWakeIdent) {
          *woken = true;
        } else if (evs[i].ident == kPollIdent) {
          // Taking it cleared it (EV_CLEAR), but the core counts the handle as
          // signalled until the next reset: trigger it again.
          SignalPollable();
        }
      } else if (evs[i].filter == EVFILT_AIO) {
        cookies[n++] = evs[i].udata;
      }
    }
    return n;
  }

  bool HasPollable() const override { return true; }
  bool OwnsPollable() const override { return true; }
  int WatchPollable(const platform::Notify&, faio_file* out) override {
    struct kevent ev;
    EV_SET(&ev, kPollIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    if (kevent(kq_, &ev, 1, nullptr, 0, nullptr) < 0) return FAIO_E_INSUFFICIENT_RESOURCES;
    *out = kq_;
    return FAIO_OK;
  }
  void SignalPollable() override {  // async-signal-safe: one system call
    struct kevent ev;
    EV_SET(&ev, kPollIdent, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    kevent(kq_, &ev, 1, nullptr, 0, nullptr);
  }
  void ResetPollable() override {
    // Both user events: a pending wakeup trigger would keep the descriptor
    // readable through waits that return before they reap (the core's
    // wakeup flag, not the trigger, is what reports it). A trigger that lands
    // between the changes is lost (ENOENT), which is safe: it was for something
    // queued or flagged before it, which this wait finds.
    struct kevent ch[4];
    EV_SET(&ch[0], kPollIdent, EVFILT_USER, EV_DELETE, 0, 0, nullptr);
    EV_SET(&ch[1], kPollIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    EV_SET(&ch[2], kWakeIdent, EVFILT_USER, EV_DELETE, 0, 0, nullptr);
    EV_SET(&ch[3], kWakeIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    kevent(kq_, ch, 4, nullptr, 0, nullptr);
  }

  void Wake() override {
    struct kevent ev;
    EV_SET(&ev, kWakeIdent, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    kevent(kq_, &ev, 1, nullptr, 0, nullptr);
  }

 private:
  int kq_ = -1;
};

}  // namespace

std::unique_ptr<AioNotifier> MakeKqueueNotifier(Unavailable* why) {
  return MakeWithInit<KqueueNotifier>(why);
}

}  // namespace faio::detail
