// model.cc - a user-space model of FreeBSD's POSIX AIO (aio(4)) and kqueue(2),
// for running the kqueue backend's own source on Linux. Test infrastructure
// only. Where each behaviour comes from (man page or kernel function) is in
// README.md; the comments below name the kernel function they follow
// (sys/kern/vfs_aio.c, sys/kern/kern_event.c; read, not copied).
//
// One process, one model: a global lock guards the jobs and the kqueues. Jobs
// run on "AIO daemon" threads doing real pread/pwrite/read/write/fsync/
// fdatasync. A kqueue is a real descriptor (an eventfd, which is its doorbell)
// so that it can be closed, exhausted and waited on with a timeout that a
// signal interrupts (poll, never restarted: kevent's EINTR). Triggering an
// EVFILT_USER event takes no lock and only writes the doorbell, so it is
// async-signal-safe as the kevent system call is.
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "faio_model.h"

namespace {

// ---- sysctls (vfs_aio.c: the SYSCTL_INTs and MAX_AIO_* defaults) -----------------

struct Sysctls {
  int max_aio_per_proc = 32;         // jobs of one process running at once
  int max_aio_queue_per_proc = 256;  // jobs one process holds: EAGAIN beyond
  int max_aio_queue = 1024;          // jobs all processes hold: EAGAIN beyond
  int max_aio_procs = 32;            // AIO daemons
  int enable_unsafe = 0;             // AIO on pipes, sockets, devices
};

struct Kq;

struct Job {
  struct aiocb* ujob;
  int fd;
  int opcode;  // LIO_READ, LIO_WRITE, LIO_SYNC, LIO_DSYNC
  off_t offset;
  void* buf;
  size_t nbytes;
  // LIO_READV/LIO_WRITEV: opcode is LIO_READ/LIO_WRITE, the iovecs copied in
  // at queueing (aio_aqueue's copyinuio), nbytes their total.
  bool vectored = false;
  std::vector<iovec> iov;
  bool seekable;
  uint64_t seqno;
  enum State { kQueued, kSyncWait, kRunning, kFinished } state = kQueued;
  long status = -1;
  int error = EINPROGRESS;
  bool checksync = false;  // a later fsync waits for this one
  int pending = 0;         // fsync: earlier transfers of its file not finished
  // The knote of SIGEV_KEVENT (filt_aioattach): registered at queueing,
  // active once the job is finished, dropped by aio_return (aio_free_entry).
  Kq* kq = nullptr;
  unsigned short kflags = 0;  // EV_CLEAR, EV_ONESHOT, EV_DISPATCH
  void* udata = nullptr;
  bool knote_live = false;  // attached, not dropped or disabled
  bool knote_queued = false;
};

// EVFILT_USER knotes are looked up and triggered without the lock (a wakeup
// may come from a signal handler): fixed slots of atomics.
struct UserNote {
  std::atomic<int> state{0};  // 0 free, 1 registered
  std::atomic<uintptr_t> ident{0};
  std::atomic<bool> clear{false};
  std::atomic<bool> triggered{false};
  std::atomic<uint32_t> sfflags{0};
  void* udata = nullptr;  // under the lock
};

struct Kq {
  int fd = -1;
  bool retired = false;  // its descriptor was closed (seen when the number came back)
  static constexpr int kUserNotes = 8;
  UserNote user[kUserNotes];
  std::deque<Job*> active;  // finished jobs whose event is pending (kq_head)
};

constexpr int kMaxFd = 1 << 20;
std::atomic<Kq*> g_kq_by_fd[kMaxFd];

struct Model {
  std::mutex mu;
  std::condition_variable work_cv;     // daemons: a job to run, or one less running
  std::condition_variable suspend_cv;  // aio_suspend: a job finished
  Sysctls sys;
  bool loaded = true;
  bool held = false;
  uint32_t delay_us = 0;
  bool complete_at_queue = false;
  std::atomic<int> eintr{0};
  uint64_t next_seqno = 0;
  std::list<Job*> all;      // kaio_all: every job from queueing to aio_return
  std::deque<Job*> runq;    // aio_jobs: scheduled, waiting for a daemon
  std::vector<Job*> syncq;  // kaio_syncqueue: fsyncs waiting for earlier writes
  int kaio_count = 0;       // jobs this process holds
  int active = 0;           // jobs in a daemon (kaio_active_count)
  int daemons = 0;
  int idle_daemons = 0;
  std::vector<Kq*> retired;  // kept: a signal handler may still look at one
  faio_model_counters counters{};
  bool env_read = false;
};

Model& M() {
  static Model* m = new Model;  // never destroyed: daemons outlive static destructors
  return *m;
}

int* SysctlSlot(Sysctls& s, const char* name) {
  if (strcmp(name, "vfs.aio.max_aio_per_proc") == 0) return &s.max_aio_per_proc;
  if (strcmp(name, "vfs.aio.max_aio_queue_per_proc") == 0) return &s.max_aio_queue_per_proc;
  if (strcmp(name, "vfs.aio.max_aio_queue") == 0) return &s.max_aio_queue;
  if (strcmp(name, "vfs.aio.max_aio_procs") == 0) return &s.max_aio_procs;
  if (strcmp(name, "vfs.aio.enable_unsafe") == 0) return &s.enable_unsafe;
  return nullptr;
}

// FAIO_MODEL_SYSCTL="name=value,...", once, under the lock.
void ReadEnvLocked(Model& m) {
  if (m.env_read) return;
  m.env_read = true;
  const char* env = getenv("FAIO_MODEL_SYSCTL");
  if (env == nullptr) return;
  std::string s(env);
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    size_t eq = item.find('=');
    if (eq != std::string::npos) {
      if (int* slot = SysctlSlot(m.sys, item.substr(0, eq).c_str())) {
        *slot = atoi(item.c_str() + eq + 1);
      }
    }
    pos = end + 1;
  }
}

std::unique_lock<std::mutex> Lock() {
  Model& m = M();
  std::unique_lock<std::mutex> lock(m.mu);
  ReadEnvLocked(m);
  return lock;
}

// Is fd still an eventfd, that is, still (most likely) this kqueue? Closing a
// kqueue is a plain close(2) the model does not see; a descriptor that is gone
// or reused for something else must not be written to or waited on.
// Async-signal-safe (readlink is).
bool StillKq(int fd) {
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(fd); n == 0 || v != 0; v /= 10)
    digits[n++] = static_cast<char>('0' + v % 10);
  size_t len = strlen(path);
  while (n > 0) path[len++] = digits[--n];
  path[len] = '\0';
  char target[32];
  ssize_t r = readlink(path, target, sizeof(target) - 1);
  if (r <= 0) return false;
  target[r] = '\0';
  return strcmp(target, "anon_inode:[eventfd]") == 0;
}

void Ring(const Kq* kq) {
  if (!StillKq(kq->fd)) return;
  uint64_t one = 1;
  ssize_t r = write(kq->fd, &one, sizeof(one));
  (void)r;
}

Kq* FindKq(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  Kq* kq = g_kq_by_fd[fd].load(std::memory_order_acquire);
  if (kq == nullptr || kq->retired) return nullptr;
  return kq;
}

// ---- completion (aio_complete, aio_bio_done_notify) ------------------------------

void ScheduleLocked(Model& m, Job* j);

void CompleteLocked(Model& m, Job* j, long status, int error) {
  j->status = status;
  j->error = error;
  j->state = Job::kFinished;
  if (j->checksync) {
    // Fsyncs of the same file queued after this job wait for it.
    for (size_t i = 0; i < m.syncq.size();) {
      Job* s = m.syncq[i];
      if (s->fd == j->fd && j->seqno < s->seqno && --s->pending == 0) {
        m.syncq.erase(m.syncq.begin() + static_cast<long>(i));
        s->state = Job::kQueued;
        ScheduleLocked(m, s);
        continue;
      }
      ++i;
    }
  }
  if (j->kq != nullptr && j->knote_live && !j->kq->retired) {
    j->kq->active.push_back(j);  // KNOTE: the event is posted
    j->knote_queued = true;
    Ring(j->kq);
  }
  m.suspend_cv.notify_all();
}

// ---- AIO daemons (aio_daemon, aio_selectjob, aio_process_rw/sync) ----------------

void RunJob(Job* j, long* status, int* error) {
  ssize_t n = 0;
  int err = 0;
  if (j->opcode == LIO_READ || j->opcode == LIO_WRITE) {
    if (j->nbytes == 0) {
      *status = 0;
      *error = 0;
      return;
    }
    do {
      const int niov = static_cast<int>(j->iov.size());
      if (j->vectored && j->opcode == LIO_READ) {
        n = j->seekable ? preadv(j->fd, j->iov.data(), niov, j->offset)
                        : readv(j->fd, j->iov.data(), niov);
      } else if (j->vectored) {
        // A vectored write to a pipe moves what one writev moves (the model
        // keeps it simple: faio's tests write vectors to files).
        n = j->seekable ? pwritev(j->fd, j->iov.data(), niov, j->offset)
                        : writev(j->fd, j->iov.data(), niov);
      } else if (j->opcode == LIO_READ) {
        n = j->seekable ? pread(j->fd, j->buf, j->nbytes, j->offset)
                        : read(j->fd, j->buf, j->nbytes);
      } else if (j->seekable) {
        n = pwrite(j->fd, j->buf, j->nbytes, j->offset);
      } else {
        // A blocking pipe or socket write moves everything (fo_write).
        size_t done = 0;
        while (done < j->nbytes) {
          ssize_t w = write(j->fd, static_cast<char*>(j->buf) + done, j->nbytes - done);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) {
            if (done == 0) n = -1;
            break;
          }
          done += static_cast<size_t>(w);
        }
        if (done > 0 || j->nbytes == 0)
          n = static_cast<ssize_t>(done);
        else if (n != -1)
          n = 0;
      }
    } while (n < 0 && errno == EINTR);
    if (n < 0) err = errno;
  } else {
    int r;
    do {
      r = j->opcode == LIO_DSYNC ? fdatasync(j->fd) : fsync(j->fd);
    } while (r != 0 && errno == EINTR);
    // fsync on a FIFO vnode is a no-op success on FreeBSD; Linux answers EINVAL.
    if (r != 0 && !(errno == EINVAL && !j->seekable)) err = errno;
    n = 0;
  }
  *status = err != 0 ? -1 : static_cast<long>(n);
  *error = err;
}

void Daemon() {
  Model& m = M();
  std::unique_lock<std::mutex> lock(m.mu);
  for (;;) {
    ++m.idle_daemons;
    m.work_cv.wait(lock,
                   [&] { return !m.held && !m.runq.empty() && m.active < m.sys.max_aio_per_proc; });
    --m.idle_daemons;
    Job* j = m.runq.front();
    m.runq.pop_front();
    j->state = Job::kRunning;
    ++m.active;
    uint32_t delay = m.delay_us;
    lock.unlock();
    if (delay != 0) std::this_thread::sleep_for(std::chrono::microseconds(delay));
    long status;
    int error;
    RunJob(j, &status, &error);
    lock.lock();
    --m.active;
    CompleteLocked(m, j, status, error);
    m.work_cv.notify_all();
  }
}

void ScheduleLocked(Model& m, Job* j) {
  m.runq.push_back(j);
  if (m.idle_daemons == 0 && m.daemons < m.sys.max_aio_procs) {
    ++m.daemons;
    std::thread(Daemon).detach();
  }
  m.work_cv.notify_all();
}

// ---- queueing (aio_aqueue, aio_queue_file) ----------------------------------------

bool IsAnonPipeOrSocket(int fd, const struct stat& st) {
  if (S_ISSOCK(st.st_mode)) return true;
  if (!S_ISFIFO(st.st_mode)) return false;
  char path[64], target[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n <= 0) return true;
  target[n] = '\0';
  return strncmp(target, "pipe:", 5) == 0;  // no vnode: an anonymous pipe
}

// Queues one aiocb; returns 0 or the error also stored in the aiocb, so that
// aio_error reports it ("Hack for failure of aio_aqueue" in kern_aio_error).
int AqueueLocked(Model& m, struct aiocb* ujob, int type) {
  ujob->_aiocb_private.status = -1;
  ujob->_aiocb_private.error = 0;
  auto refuse = [&](int e) {
    ujob->_aiocb_private.error = e;
    ++m.counters.jobs_refused;
    return e;
  };
  if (!m.loaded) return refuse(ENOSYS);
  if (m.kaio_count >= m.sys.max_aio_queue || m.kaio_count >= m.sys.max_aio_queue_per_proc) {
    return refuse(EAGAIN);
  }
  if (ujob->aio_nbytes > static_cast<size_t>(SSIZE_MAX)) return refuse(EINVAL);
  const struct sigevent& sev = ujob->aio_sigevent;
  if (sev.sigev_notify != SIGEV_KEVENT && sev.sigev_notify != SIGEV_SIGNAL &&
      sev.sigev_notify != SIGEV_NONE) {
    return refuse(EINVAL);  // SIGEV_THREAD is libc's business, not the kernel's
  }
  int opcode = type;
  if (type == LIO_NOP) {
    opcode = ujob->aio_lio_opcode;
    if (opcode != LIO_READ && opcode != LIO_WRITE && opcode != LIO_NOP && opcode != LIO_READV &&
        opcode != LIO_WRITEV) {
      return refuse(EINVAL);
    }
  } else {
    ujob->aio_lio_opcode = type;
  }
  // A vectored job: its iovecs are copied in (at most UIO_MAXIOV, 1024).
  const bool vectored = (opcode & LIO_VECTORED) != 0 && !(opcode & LIO_SYNC);
  std::vector<iovec> iov;
  size_t vector_bytes = 0;
  if (vectored) {
    opcode &= ~LIO_VECTORED;
    size_t cnt = ujob->aio_iovcnt;
    if (cnt > 1024) return refuse(EINVAL);
    const auto* src = static_cast<const iovec*>(const_cast<const void*>(ujob->aio_iov));
    iov.assign(src, src + cnt);
    for (const iovec& v : iov) vector_bytes += v.iov_len;
  }
  int fd = ujob->aio_fildes;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return refuse(EBADF);
  int acc = fl & O_ACCMODE;
  if (opcode == LIO_WRITE && acc == O_RDONLY) return refuse(EBADF);
  if (opcode == LIO_READ && acc == O_WRONLY) return refuse(EBADF);
  struct stat st;
  if (fstat(fd, &st) != 0) return refuse(EBADF);
  bool no_vnode = IsAnonPipeOrSocket(fd, st);
  if ((opcode & LIO_SYNC) && no_vnode) return refuse(EINVAL);
  bool seekable = !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode);
  if ((opcode == LIO_READ || opcode == LIO_WRITE) && ujob->aio_offset < 0 && !S_ISCHR(st.st_mode)) {
    return refuse(EINVAL);
  }
  if (opcode == LIO_NOP) return 0;
  Kq* kq = nullptr;
  unsigned short evflags = 0;
  if (sev.sigev_notify == SIGEV_KEVENT) {
    evflags = static_cast<unsigned short>(sev.sigev_notify_kevent_flags);
    if ((evflags & ~(EV_CLEAR | EV_DISPATCH | EV_ONESHOT)) != 0) return refuse(EINVAL);
    kq = FindKq(sev.sigev_notify_kqueue);
    if (kq == nullptr) return refuse(EBADF);  // kqfd_register: not a kqueue
  }
  // aio_queue_file: only regular files and directories (of local filesystems)
  // are safe; anything else needs vfs.aio.enable_unsafe.
  bool safe = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode);
  if (!safe && !m.sys.enable_unsafe) return refuse(EOPNOTSUPP);

  Job* j = new Job;
  j->ujob = ujob;
  j->fd = fd;
  j->opcode = opcode;
  j->offset = ujob->aio_offset;
  j->buf = const_cast<void*>(ujob->aio_buf);
  j->nbytes = vectored ? vector_bytes : ujob->aio_nbytes;
  j->vectored = vectored;
  j->iov = std::move(iov);
  j->seekable = seekable;
  j->seqno = m.next_seqno++;
  j->kq = kq;
  j->kflags = evflags;
  j->udata = sev.sigev_value.sival_ptr;
  j->knote_live = kq != nullptr;
  ujob->_aiocb_private.error = EINPROGRESS;
  m.all.push_back(j);
  ++m.kaio_count;
  ++m.counters.jobs_queued;
  if (opcode & LIO_SYNC) {
    for (Job* o : m.all) {
      if (o != j && o->fd == fd && !(o->opcode & LIO_SYNC) && o->state != Job::kFinished &&
          o->seqno < j->seqno) {
        o->checksync = true;
        ++j->pending;
      }
    }
    if (j->pending != 0) {
      j->state = Job::kSyncWait;
      m.syncq.push_back(j);
      return 0;
    }
  }
  if (m.complete_at_queue) {
    // The queueing completed the job at once, as fo_aio_queue may (sockets with
    // data; the KAIOCB_FINISHED branch of aio_aqueue): its event is posted
    // before aio_read or lio_listio returns.
    j->state = Job::kRunning;
    long status;
    int error;
    RunJob(j, &status, &error);
    CompleteLocked(m, j, status, error);
    return 0;
  }
  ScheduleLocked(m, j);
  return 0;
}

Job* FindJobLocked(Model& m, const struct aiocb* ujob) {
  for (Job* j : m.all) {
    if (j->ujob == ujob) return j;
  }
  return nullptr;
}

// aio_free_entry: the job goes, its knote with it (a pending event is dropped).
void FreeJobLocked(Model& m, Job* j) {
  m.all.remove(j);
  --m.kaio_count;
  if (j->knote_queued) {
    for (auto it = j->kq->active.begin(); it != j->kq->active.end(); ++it) {
      if (*it == j) {
        j->kq->active.erase(it);
        break;
      }
    }
  }
  delete j;
}

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

int64_t NsLeft(const timespec& deadline) {
  timespec now = Now();
  return (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
}

}  // namespace

// ---- <aio.h> ---------------------------------------------------------------------

extern "C" int aio_read(struct aiocb* cb) {
  auto lock = Lock();
  int e = AqueueLocked(M(), cb, LIO_READ);
  if (e != 0) errno = e;
  return e != 0 ? -1 : 0;
}

extern "C" int aio_write(struct aiocb* cb) {
  auto lock = Lock();
  int e = AqueueLocked(M(), cb, LIO_WRITE);
  if (e != 0) errno = e;
  return e != 0 ? -1 : 0;
}

extern "C" int aio_fsync(int op, struct aiocb* cb) {
  int type;
  if (op == O_SYNC) {
    type = LIO_SYNC;
  } else if (op == O_DSYNC) {
    type = LIO_DSYNC;
  } else {
    errno = EINVAL;
    return -1;
  }
  auto lock = Lock();
  int e = AqueueLocked(M(), cb, type);
  if (e != 0) errno = e;
  return e != 0 ? -1 : 0;
}

// kern_lio_listio: each aiocb queued on its own; the call answers EIO when any
// failed for another reason than resources, else EAGAIN when any did, and
// some of the list may be queued either way.
extern "C" int lio_listio(int mode, struct aiocb* const list[], int nent, struct sigevent* sig) {
  if (mode != LIO_NOWAIT && mode != LIO_WAIT) {
    errno = EINVAL;
    return -1;
  }
  if (nent < 0 || nent > AIO_LISTIO_MAX) {
    errno = EINVAL;
    return -1;
  }
  if (mode == LIO_WAIT || (sig != nullptr && sig->sigev_notify != SIGEV_NONE)) {
    errno = EINVAL;  // not modelled: the backend uses LIO_NOWAIT without a list event
    return -1;
  }
  auto lock = Lock();
  Model& m = M();
  if (!m.loaded) {
    errno = ENOSYS;
    return -1;
  }
  int nagain = 0, nerror = 0;
  for (int i = 0; i < nent; ++i) {
    if (list[i] == nullptr) continue;
    int e = AqueueLocked(m, list[i], LIO_NOP);
    if (e == EAGAIN) {
      ++nagain;
    } else if (e != 0) {
      ++nerror;
    }
  }
  if (nerror != 0) {
    errno = EIO;
    return -1;
  }
  if (nagain != 0) {
    errno = EAGAIN;
    return -1;
  }
  return 0;
}

// kern_aio_error: EINPROGRESS or the finished job's error; for an aiocb the
// kernel does not hold, the error its failed queueing (or aio_return) stored
// in it, else EINVAL - as the return value, not in errno.
extern "C" int aio_error(const struct aiocb* cb) {
  auto lock = Lock();
  Model& m = M();
  if (!m.loaded) {
    errno = ENOSYS;
    return -1;
  }
  if (Job* j = FindJobLocked(m, cb)) return j->state == Job::kFinished ? j->error : EINPROGRESS;
  if (cb->_aiocb_private.status == -1) return static_cast<int>(cb->_aiocb_private.error);
  return EINVAL;
}

// kern_aio_return: only a finished job; frees it, with its knote.
extern "C" ssize_t aio_return(struct aiocb* cb) {
  auto lock = Lock();
  Model& m = M();
  Job* j = nullptr;
  for (Job* o : m.all) {
    if (o->ujob == cb && o->state == Job::kFinished) {
      j = o;
      break;
    }
  }
  if (j == nullptr) {
    errno = EINVAL;
    return -1;
  }
  long status = j->status;
  int error = j->error;
  FreeJobLocked(m, j);
  ++m.counters.aio_returns;
  cb->_aiocb_private.error = error;
  cb->_aiocb_private.status = status;
  if (error != 0) {
    errno = error;
    return -1;
  }
  return status;
}

// sys_aio_cancel: a job still queued (or waiting as an fsync) is cancelled -
// completed with ECANCELED, which posts its event like any completion
// (aio_cancel(2): "Normal asynchronous notification occurs for cancelled
// requests"); a running one is not; none left is AIO_ALLDONE.
extern "C" int aio_cancel(int fd, struct aiocb* cb) {
  if (fcntl(fd, F_GETFD) < 0) {
    errno = EBADF;
    return -1;
  }
  auto lock = Lock();
  Model& m = M();
  int cancelled = 0, notcancelled = 0;
  std::vector<Job*> snapshot(m.all.begin(), m.all.end());
  for (Job* j : snapshot) {
    if (j->fd != fd || (cb != nullptr && j->ujob != cb) || j->state == Job::kFinished) continue;
    if (j->state == Job::kQueued) {
      for (auto it = m.runq.begin(); it != m.runq.end(); ++it) {
        if (*it == j) {
          m.runq.erase(it);
          break;
        }
      }
      CompleteLocked(m, j, -1, ECANCELED);
      ++m.counters.jobs_cancelled;
      ++cancelled;
    } else if (j->state == Job::kSyncWait) {
      for (auto it = m.syncq.begin(); it != m.syncq.end(); ++it) {
        if (*it == j) {
          m.syncq.erase(it);
          break;
        }
      }
      CompleteLocked(m, j, -1, ECANCELED);
      ++m.counters.jobs_cancelled;
      ++cancelled;
    } else {
      ++notcancelled;
    }
    if (cb != nullptr) break;
  }
  if (cb != nullptr && cancelled) return AIO_CANCELED;
  if (notcancelled) return AIO_NOTCANCELED;
  if (cancelled) return AIO_CANCELED;
  return AIO_ALLDONE;
}

// kern_aio_suspend: returns when one listed job is finished, or at once when
// the kernel holds none of them; EAGAIN at the timeout.
extern "C" int aio_suspend(const struct aiocb* const list[], int nent,
                           const struct timespec* timeout) {
  auto lock = Lock();
  Model& m = M();
  if (nent < 0 || nent > m.sys.max_aio_queue_per_proc) {
    errno = EINVAL;
    return -1;
  }
  auto deadline = std::chrono::steady_clock::now();
  if (timeout != nullptr) {
    deadline += std::chrono::seconds(timeout->tv_sec) + std::chrono::nanoseconds(timeout->tv_nsec);
  }
  for (;;) {
    bool any = false;
    for (int i = 0; i < nent; ++i) {
      if (list[i] == nullptr) continue;
      if (Job* j = FindJobLocked(m, list[i])) {
        any = true;
        if (j->state == Job::kFinished) return 0;
      }
    }
    if (!any) return 0;
    if (timeout == nullptr) {
      m.suspend_cv.wait(lock);
    } else if (m.suspend_cv.wait_until(lock, deadline) == std::cv_status::timeout) {
      errno = EAGAIN;
      return -1;
    }
  }
}

// ---- <sys/event.h> ---------------------------------------------------------------

extern "C" int kqueue(void) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -1;
  if (fd >= kMaxFd) {
    close(fd);
    errno = EMFILE;
    return -1;
  }
  Kq* kq = new Kq;
  kq->fd = fd;
  auto lock = Lock();
  Model& m = M();
  // A kqueue still here under this number was closed (the number came back).
  if (Kq* old = g_kq_by_fd[fd].load(std::memory_order_relaxed)) {
    old->retired = true;
    for (Job* j : m.all) {
      if (j->kq == old) j->knote_live = false;
    }
    old->active.clear();
    m.retired.push_back(old);
  }
  g_kq_by_fd[fd].store(kq, std::memory_order_release);
  return fd;
}

namespace {

// Triggers without the lock (signal handlers): EVFILT_USER changes that only
// touch a registered knote.
bool TouchUserNote(Kq* kq, const struct kevent& ch) {
  for (UserNote& u : kq->user) {
    if (u.state.load(std::memory_order_acquire) == 1 &&
        u.ident.load(std::memory_order_relaxed) == ch.ident) {
      uint32_t ff = ch.fflags & NOTE_FFLAGSMASK;
      switch (ch.fflags & NOTE_FFCTRLMASK) {
        case NOTE_FFAND:
          u.sfflags.fetch_and(ff);
          break;
        case NOTE_FFOR:
          u.sfflags.fetch_or(ff);
          break;
        case NOTE_FFCOPY:
          u.sfflags.store(ff);
          break;
        default:
          break;
      }
      if (ch.fflags & NOTE_TRIGGER) {
        u.triggered.store(true, std::memory_order_release);
        Ring(kq);
      }
      return true;
    }
  }
  return false;
}

bool LockFree(const struct kevent* changes, int n) {
  for (int i = 0; i < n; ++i) {
    if (changes[i].filter != EVFILT_USER || (changes[i].flags & (EV_ADD | EV_DELETE)) != 0) {
      return false;
    }
  }
  return true;
}

// One change under the lock (kqueue_register); returns 0 or an errno.
int RegisterLocked(Kq* kq, const struct kevent& ch) {
  if (ch.filter == EVFILT_AIO) return EPERM;  // filt_aioattach: only the kernel registers
  if (ch.filter != EVFILT_USER) return EINVAL;
  if (ch.flags & EV_DELETE) {
    for (UserNote& u : kq->user) {
      if (u.state.load() == 1 && u.ident.load() == ch.ident) {
        u.state.store(0, std::memory_order_release);
        u.triggered.store(false);
        return 0;
      }
    }
    return ENOENT;
  }
  if (ch.flags & EV_ADD) {
    UserNote* slot = nullptr;
    for (UserNote& u : kq->user) {
      if (u.state.load() == 1 && u.ident.load() == ch.ident) slot = &u;
    }
    if (slot == nullptr) {
      for (UserNote& u : kq->user) {
        if (u.state.load() == 0) {
          slot = &u;
          slot->ident.store(ch.ident);
          slot->triggered.store(false);
          slot->sfflags.store(0);
          break;
        }
      }
      if (slot == nullptr) return ENOMEM;  // the model's limit: kUserNotes per kqueue
    }
    slot->clear.store((ch.flags & EV_CLEAR) != 0);
    slot->udata = ch.udata;
    slot->state.store(1, std::memory_order_release);
    return TouchUserNote(kq, ch) ? 0 : ENOENT;
  }
  return TouchUserNote(kq, ch) ? 0 : ENOENT;
}

// The descriptor of a kqueue polls readable while an event is pending
// (kqueue_poll: kq_count > 0). The model's doorbell follows that: rung when an
// event becomes pending, and after a scan or a change set it is drained and rung
// again only while something is still pending.
bool PendingLocked(Kq* kq) {
  if (!kq->active.empty()) return true;
  for (UserNote& u : kq->user) {
    if (u.state.load(std::memory_order_acquire) == 1 && u.triggered.load()) return true;
  }
  return false;
}
void ResyncLocked(Kq* kq) {
  uint64_t drained;
  while (read(kq->fd, &drained, sizeof(drained)) > 0) {
  }
  if (PendingLocked(kq)) Ring(kq);
}

// kqueue_scan, one pass: up to n pending events. An EVFILT_AIO knote without
// EV_ONESHOT/EV_CLEAR/EV_DISPATCH stays active while its job is finished (the
// filter keeps answering true) and is reported again by the next scan, until
// aio_return drops it.
int ScanLocked(Model& m, Kq* kq, struct kevent* out, int n) {
  int got = 0;
  for (UserNote& u : kq->user) {
    if (got == n) break;
    if (u.state.load(std::memory_order_acquire) != 1) continue;
    bool trig = u.clear.load() ? u.triggered.exchange(false) : u.triggered.load();
    if (!trig) continue;
    struct kevent& e = out[got++];
    EV_SET(&e, u.ident.load(), EVFILT_USER, u.clear.load() ? EV_CLEAR : 0, u.sfflags.load(), 0,
           u.udata);
  }
  std::vector<Job*> again;
  while (got < n && !kq->active.empty()) {
    Job* j = kq->active.front();
    kq->active.pop_front();
    j->knote_queued = false;
    struct kevent& e = out[got++];
    EV_SET(&e, reinterpret_cast<uintptr_t>(j->ujob), EVFILT_AIO,
           static_cast<unsigned short>(j->kflags | EV_EOF), 0, j->error, j->udata);
    ++m.counters.aio_events;
    if (j->kflags & (EV_ONESHOT | EV_DISPATCH)) {
      j->knote_live = false;
    } else if (!(j->kflags & EV_CLEAR)) {
      again.push_back(j);
    }
  }
  for (Job* j : again) {
    kq->active.push_back(j);
    j->knote_queued = true;
  }
  return got;
}

}  // namespace

extern "C" int kevent(int kqfd, const struct kevent* changes, int nchanges, struct kevent* events,
                      int nevents, const struct timespec* timeout) {
  Kq* kq = FindKq(kqfd);
  if (kq != nullptr && !StillKq(kqfd)) kq = nullptr;
  if (kq == nullptr || nchanges < 0 || nevents < 0) {
    errno = kq == nullptr ? EBADF : EINVAL;
    return -1;
  }
  if (nevents == 0 && LockFree(changes, nchanges)) {
    for (int i = 0; i < nchanges; ++i) {
      if (!TouchUserNote(kq, changes[i])) {
        errno = ENOENT;
        return -1;
      }
    }
    return 0;
  }
  Model& m = M();
  {
    auto lock = Lock();
    int reported = 0;
    for (int i = 0; i < nchanges; ++i) {
      int e = RegisterLocked(kq, changes[i]);
      if (e == 0 && !(changes[i].flags & EV_RECEIPT)) continue;
      // kqueue_kevent: an error goes to the event list while there is room.
      if (reported < nevents) {
        events[reported] = changes[i];
        events[reported].flags = EV_ERROR;
        events[reported].data = e;
        ++reported;
      } else if (e != 0) {
        errno = e;
        return -1;
      }
    }
    if (nchanges > 0) ResyncLocked(kq);  // a deleted event is not pending any more
    if (reported > 0) return reported;
  }
  if (nevents == 0) return 0;
  bool poll_only = timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
  timespec deadline{};
  if (timeout != nullptr) {
    if (timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L || timeout->tv_sec < 0) {
      errno = EINVAL;
      return -1;
    }
    deadline = Now();
    deadline.tv_sec += timeout->tv_sec;
    deadline.tv_nsec += timeout->tv_nsec;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  for (;;) {
    uint64_t drained;
    while (read(kq->fd, &drained, sizeof(drained)) > 0) {
    }
    {
      auto lock = Lock();
      int got = ScanLocked(m, kq, events, nevents);
      if (got > 0) {
        if (PendingLocked(kq)) Ring(kq);  // more than fitted: still readable
        return got;
      }
    }
    if (poll_only) return 0;
    if (m.eintr.load() > 0 && m.eintr.fetch_sub(1) > 0) {
      errno = EINTR;
      return -1;
    }
    int ms = -1;
    if (timeout != nullptr) {
      int64_t ns = NsLeft(deadline);
      if (ns <= 0) return 0;
      ms = static_cast<int>(ns / 1000000 + (ns % 1000000 != 0));
    }
    struct pollfd p = {kq->fd, POLLIN, 0};
    if (poll(&p, 1, ms) < 0 && errno == EINTR) return -1;  // a signal: not restarted
  }
}

// ---- <sys/sysctl.h> --------------------------------------------------------------

extern "C" int sysctlbyname(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                            size_t newlen) {
  auto lock = Lock();
  Model& m = M();
  int* slot = m.loaded ? SysctlSlot(m.sys, name) : nullptr;
  if (slot == nullptr) {
    errno = ENOENT;
    return -1;
  }
  if (oldp != nullptr) {
    if (oldlenp == nullptr || *oldlenp < sizeof(int)) {
      errno = ENOMEM;
      return -1;
    }
    memcpy(oldp, slot, sizeof(int));
  }
  if (oldlenp != nullptr) *oldlenp = sizeof(int);
  if (newp != nullptr) {
    if (newlen != sizeof(int)) {
      errno = EINVAL;
      return -1;
    }
    memcpy(slot, newp, sizeof(int));
    m.work_cv.notify_all();  // max_aio_per_proc may have grown
  }
  return 0;
}

// ---- knobs (faio_model.h) --------------------------------------------------------

extern "C" void faio_model_reset(void) {
  auto lock = Lock();
  Model& m = M();
  m.sys = Sysctls();
  m.loaded = true;
  m.held = false;
  m.delay_us = 0;
  m.complete_at_queue = false;
  m.eintr.store(0);
  m.counters = faio_model_counters{};
  m.work_cv.notify_all();
}

extern "C" void faio_model_hold_jobs(int hold) {
  auto lock = Lock();
  M().held = hold != 0;
  M().work_cv.notify_all();
}

extern "C" void faio_model_set_job_delay_us(uint32_t us) {
  auto lock = Lock();
  M().delay_us = us;
}

extern "C" void faio_model_complete_at_queue(int on) {
  auto lock = Lock();
  M().complete_at_queue = on != 0;
}

extern "C" void faio_model_set_aio_loaded(int loaded) {
  auto lock = Lock();
  M().loaded = loaded != 0;
}

extern "C" void faio_model_inject_kevent_eintr(int n) { M().eintr.store(n); }

extern "C" void faio_model_get_counters(struct faio_model_counters* out) {
  auto lock = Lock();
  Model& m = M();
  *out = m.counters;
  out->jobs_outstanding = static_cast<uint64_t>(m.kaio_count);
  out->jobs_running = static_cast<uint64_t>(m.active);
}
