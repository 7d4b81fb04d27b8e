// pool.h - the process's one pool of worker threads (threads_backend.cc, Pool;
// docs/backends.md, "The threads pool") and what uses it: a PoolClient.
//
// A client is a threads context, or another backend handing the pool work its
// host does worse (linux_aio's flushes: kernel AIO's IOCB_CMD_FDSYNC costs more
// than fdatasync on a worker). Each client has its own FIFO of queued requests
// and a cap on the workers it occupies at once; the pool serves the clients with
// queued work round robin. A worker runs a request's system call
// (PoolClient::Execute) and hands it to the client's Done.
#ifndef FAIO_SRC_BACKEND_THREADS_POOL_H_
#define FAIO_SRC_BACKEND_THREADS_POOL_H_

#include <atomic>
#include <cstdint>

#include "backend/backend.h"
#include "core/intrusive_list.h"
#include "core/request.h"

namespace faio::detail {

class Pool;

class PoolClient {
 public:
  // Request::backend_data while the request is with the pool. kQueued is
  // written only by Push, under the pool's mutex, as the request joins the
  // client's FIFO: a cancel that comes before (or for a request never pushed:
  // 0) finds it not queued.
  enum : uint64_t { kNotHere = 0, kQueued = 1, kRunning = 2, kDone = 3 };
  static std::atomic<uint64_t>& Flag(Request* r) { return r->backend_data; }

  // cap: the most workers this client occupies at once.
  explicit PoolClient(uint32_t cap) : cap_(cap) {}
  PoolClient(const PoolClient&) = delete;
  PoolClient& operator=(const PoolClient&) = delete;

  // Attach: the pool has a worker, or starts one (false with *why when the host
  // refuses a thread: insufficient resources). Once, before the first Push.
  bool Attach(Unavailable* why);
  // Push queues reqs and wakes or starts workers for them. False (none queued)
  // only when the pool has no worker and the host refuses to start one.
  bool Push(Request* const* reqs, size_t n, int* host_error);
  // Unqueue takes a queued request back (cancel); false when a worker has it
  // or it is not with the pool.
  bool Unqueue(Request* r);
  // Detach waits until no worker runs a request of this client and forgets it.
  // Call it (when attached) before the client is destroyed.
  void Detach();
  bool attached() const { return attached_; }
  // RunOwn: the calling thread (a waiter about to sleep) takes the oldest queued
  // request of this client when its file is local (Request::LocalFile, checked
  // again with platform::IsLocalFile), runs it as a worker would (Execute) and
  // returns it, Flag kDone, without Done; null when there is none to take. A
  // queued request would otherwise wait for a worker to wake (tens of
  // microseconds on a small machine) while this thread sleeps.
  Request* RunOwn();

  // Execute makes r's system call (read, write or sync) and records the result
  // in r->host_error and r->bytes.
  static void Execute(Request* r);

 protected:
  ~PoolClient() = default;
  // Done: a worker ran r (Flag is kDone). Called on the worker's thread.
  virtual void Done(Request* r) = 0;

 private:
  friend class Pool;
  const uint32_t cap_;
  bool attached_ = false;
  // The pool's (guarded by its mutex): this client's queue and its place in
  // the ring of clients with queued work.
  IntrusiveList<Request, &Request::next, &Request::prev> queue_;
  uint32_t running_ = 0;  // requests of this client a worker is running
  bool in_ring_ = false;
  uint64_t gen_ = 0;  // the pool's generation when attached (fork)
  PoolClient* ring_next_ = nullptr;
  PoolClient* ring_prev_ = nullptr;
};

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_THREADS_POOL_H_
