// notifier_sigev_thread.cc - SIGEV_THREAD notification (see notifier.h).
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>

#include "backend/posix_aio/notifier.h"

namespace faio::detail {
namespace {

class SigevThreadNotifier final : public AioNotifier {
 public:
  // Each pending aiocb's cookie points at a Node whose first member leads back
  // to us (set by the backend through Prepare).
  struct Node {
    SigevThreadNotifier* owner;
    void* cookie;
    Node* next;
  };

  void Prepare(struct sigevent* sev, void* cookie) override {
    // The backend's cookie is a slot that starts with room for a Node; we keep
    // our bookkeeping in it so no allocation happens per request.
    auto* node = static_cast<Node*>(cookie);
    node->owner = this;
    node->cookie = cookie;
    sev->sigev_notify = SIGEV_THREAD;
    sev->sigev_value.sival_ptr = node;
    sev->sigev_notify_function = &Notify;
    sev->sigev_notify_attributes = nullptr;
  }

  size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                 bool* woken) override {
    size_t n = 0;
    for (;;) {
      if (ready_ == nullptr) TakeAll();
      while (ready_ != nullptr && n < max) {
        Node* node = ready_;
        ready_ = node->next;
        cookies[n++] = node->cookie;
      }
      if (kicked_.exchange(false, std::memory_order_acq_rel)) *woken = true;
      if (n > 0 || !block || *woken) return n;
      std::unique_lock<std::mutex> lock(mu_);
      sleeping_.store(true, std::memory_order_seq_cst);
      if (done_.load(std::memory_order_seq_cst) == nullptr &&
          !kicked_.load(std::memory_order_seq_cst)) {
        if (deadline == Clock::time_point::max()) {
          cv_.wait(lock);
        } else if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
          block = false;
        }
      }
      sleeping_.store(false, std::memory_order_relaxed);
    }
  }

  void Wake() override {
    kicked_.store(true, std::memory_order_seq_cst);
    WakeSleeper();
  }

 private:
  static void Notify(union sigval v) {
    auto* node = static_cast<Node*>(v.sival_ptr);
    SigevThreadNotifier* self = node->owner;
    Node* head = self->done_.load(std::memory_order_relaxed);
    do {
      node->next = head;
    } while (!self->done_.compare_exchange_weak(head, node, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
    self->WakeSleeper();
  }

  void WakeSleeper() {
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_one();
    }
  }

  void TakeAll() {
    Node* r = done_.exchange(nullptr, std::memory_order_acquire);
    Node* fifo = nullptr;
    while (r != nullptr) {
      Node* next = r->next;
      r->next = fifo;
      fifo = r;
      r = next;
    }
    ready_ = fifo;
  }

  std::atomic<Node*> done_{nullptr};
  Node* ready_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> kicked_{false};
};

}  // namespace

std::unique_ptr<AioNotifier> MakeSigevThreadNotifier(Unavailable* why) {
  auto n = std::unique_ptr<AioNotifier>(new (std::nothrow) SigevThreadNotifier());
  if (n == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
  }
  return n;
}

}  // namespace faio::detail
