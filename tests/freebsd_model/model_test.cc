// model_test.cc - the FreeBSD model against FreeBSD's documented behaviour
// (README.md lists the source of each). Every test starts from FreeBSD's
// default sysctls with no job in the model.
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/sysctl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "faio_model.h"

namespace {

using Clock = std::chrono::steady_clock;

class FreeBSDModel : public ::testing::Test {
 protected:
  void SetUp() override {
    faio_model_reset();
    char path[] = "/tmp/faio-model-XXXXXX";
    fd_ = mkstemp(path);
    ASSERT_GE(fd_, 0);
    unlink(path);
    std::string data(8192, 'x');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    ASSERT_EQ(pwrite(fd_, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    kq_ = kqueue();
    ASSERT_GE(kq_, 0);
  }
  void TearDown() override {
    faio_model_hold_jobs(0);
    for (int p : pipes_) close(p);  // held pipe reads end with end of file
    // Collect whatever a failed test left, so the next one starts empty.
    for (aiocb* cb : owned_) {
      while (aio_error(cb) == EINPROGRESS)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      aio_return(cb);
    }
    if (kq_ >= 0) close(kq_);
    if (fd_ >= 0) close(fd_);
    faio_model_reset();
  }

  aiocb* Cb(int fd, void* buf, size_t n, off_t off, void* cookie, int opcode = LIO_READ) {
    auto* cb = new aiocb;
    memset(cb, 0, sizeof(*cb));
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
    cb->aio_lio_opcode = opcode;
    cb->aio_sigevent.sigev_notify = SIGEV_KEVENT;
    cb->aio_sigevent.sigev_notify_kqueue = kq_;
    cb->aio_sigevent.sigev_value.sival_ptr = cookie;
    owned_.push_back(cb);
    cbs_.emplace_back(cb);
    return cb;
  }
  void Pipe(int p[2]) {
    ASSERT_EQ(pipe(p), 0);
    pipes_.push_back(p[0]);
    pipes_.push_back(p[1]);
  }
  int Kevent(struct kevent* evs, int n, int timeout_ms) {
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    return kevent(kq_, nullptr, 0, evs, n, timeout_ms < 0 ? nullptr : &ts);
  }
  void SetSysctl(const char* name, int v) {
    ASSERT_EQ(sysctlbyname(name, nullptr, nullptr, &v, sizeof(v)), 0) << name;
  }
  void WaitDone(aiocb* cb) {
    auto until = Clock::now() + std::chrono::seconds(10);
    while (aio_error(cb) == EINPROGRESS && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  void Forget(aiocb* cb) {  // aio_return was called: TearDown leaves it alone
    for (auto& o : owned_) {
      if (o == cb) o = nullptr;
    }
    std::erase(owned_, nullptr);
  }

  int fd_ = -1;
  int kq_ = -1;
  char buf_[8][512];
  std::vector<aiocb*> owned_;
  std::vector<std::unique_ptr<aiocb>> cbs_;
  std::vector<int> pipes_;
};

// aio(4): the kevent of SIGEV_KEVENT has ident = the aiocb, filter EVFILT_AIO,
// flags EV_EOF, udata = sigev_value; aio_return(2) collects the result once.
TEST_F(FreeBSDModel, AioEventCarriesTheAiocbAndSigevValue) {
  int cookie = 0;
  aiocb* cb = Cb(fd_, buf_[0], 100, 26, &cookie);
  ASSERT_EQ(aio_read(cb), 0);
  struct kevent ev[4];
  ASSERT_EQ(Kevent(ev, 4, 5000), 1);
  EXPECT_EQ(ev[0].filter, EVFILT_AIO);
  EXPECT_EQ(ev[0].ident, reinterpret_cast<uintptr_t>(cb));
  EXPECT_EQ(ev[0].udata, &cookie);
  EXPECT_TRUE(ev[0].flags & EV_EOF);
  EXPECT_EQ(aio_error(cb), 0);
  EXPECT_EQ(aio_return(cb), 100);
  Forget(cb);
  EXPECT_EQ(buf_[0][0], 'a');
  errno = 0;
  EXPECT_EQ(aio_return(cb), -1);  // the second time: EINVAL
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(Kevent(ev, 4, 0), 0);  // aio_return dropped the knote
}

// filt_aio answers true while the job is finished, so without EV_ONESHOT or
// EV_CLEAR the event comes back until aio_return; with EV_ONESHOT once.
TEST_F(FreeBSDModel, AioEventRepeatsUntilAioReturnUnlessOneshot) {
  aiocb* level = Cb(fd_, buf_[0], 10, 0, nullptr);
  ASSERT_EQ(aio_read(level), 0);
  WaitDone(level);
  struct kevent ev[4];
  EXPECT_EQ(Kevent(ev, 4, 1000), 1);
  EXPECT_EQ(Kevent(ev, 4, 0), 1);
  EXPECT_EQ(aio_return(level), 10);
  Forget(level);
  EXPECT_EQ(Kevent(ev, 4, 0), 0);

  aiocb* once = Cb(fd_, buf_[1], 10, 0, nullptr);
  once->aio_sigevent.sigev_notify_kevent_flags = EV_ONESHOT;
  ASSERT_EQ(aio_read(once), 0);
  EXPECT_EQ(Kevent(ev, 4, 5000), 1);
  EXPECT_EQ(Kevent(ev, 4, 0), 0);
  EXPECT_EQ(aio_return(once), 10);
  Forget(once);
}

// kqueue(2) EVFILT_USER: NOTE_TRIGGER fires it; EV_CLEAR resets it once
// reported, so triggers before a kevent coalesce into one event.
TEST_F(FreeBSDModel, UserEventTriggersAndClears) {
  struct kevent ch;
  EV_SET(&ch, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
  ASSERT_EQ(kevent(kq_, &ch, 1, nullptr, 0, nullptr), 0);
  struct kevent ev[4];
  EXPECT_EQ(Kevent(ev, 4, 0), 0);
  EV_SET(&ch, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
  ASSERT_EQ(kevent(kq_, &ch, 1, nullptr, 0, nullptr), 0);
  ASSERT_EQ(kevent(kq_, &ch, 1, nullptr, 0, nullptr), 0);
  ASSERT_EQ(Kevent(ev, 4, 1000), 1);
  EXPECT_EQ(ev[0].filter, EVFILT_USER);
  EXPECT_EQ(ev[0].ident, 7u);
  EXPECT_EQ(Kevent(ev, 4, 0), 0);
  // A trigger of an ident never added is ENOENT.
  EV_SET(&ch, 8, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
  EXPECT_EQ(kevent(kq_, &ch, 1, nullptr, 0, nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
}

// kevent(2): a timeout, nevents bounding what one call returns, and EINTR when
// a signal arrives while it waits (never restarted, even with SA_RESTART).
TEST_F(FreeBSDModel, KeventTimeoutBoundAndEintr) {
  struct kevent ev[4];
  auto t0 = Clock::now();
  EXPECT_EQ(Kevent(ev, 4, 50), 0);
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(45));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(aio_read(Cb(fd_, buf_[i], 10, 0, nullptr)), 0);
  for (aiocb* cb : owned_) WaitDone(cb);
  EXPECT_EQ(Kevent(ev, 1, 0), 1);
  EXPECT_EQ(Kevent(ev, 2, 0), 2);

  faio_model_inject_kevent_eintr(1);
  for (aiocb* cb : std::vector<aiocb*>(owned_)) {
    aio_return(cb);
    Forget(cb);
  }
  EXPECT_EQ(Kevent(ev, 4, 1000), -1);
  EXPECT_EQ(errno, EINTR);

  struct sigaction sa = {};
  sa.sa_handler = [](int) {};
  sa.sa_flags = SA_RESTART;
  struct sigaction old;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  pthread_t self = pthread_self();
  std::thread t([self] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pthread_kill(self, SIGUSR1);
  });
  errno = 0;
  EXPECT_EQ(Kevent(ev, 4, 5000), -1);
  EXPECT_EQ(errno, EINTR);
  t.join();
  sigaction(SIGUSR1, &old, nullptr);
}

// lio_listio(2): EINVAL above AIO_LISTIO_MAX (16).
TEST_F(FreeBSDModel, ListioTakesAtMostAioListioMax) {
  std::vector<aiocb*> list;
  for (int i = 0; i < AIO_LISTIO_MAX + 1; ++i) list.push_back(Cb(fd_, buf_[0], 1, 0, nullptr));
  EXPECT_EQ(lio_listio(LIO_NOWAIT, list.data(), AIO_LISTIO_MAX + 1, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
  owned_.clear();
  faio_model_counters c;
  faio_model_get_counters(&c);
  EXPECT_EQ(c.jobs_queued, 0u);
}

// kern_lio_listio: at the per-process cap the call fails with EAGAIN with the
// head of the list queued; aio_error tells each aiocb's fate; a refused one
// was never the kernel's (aio_return: EINVAL).
TEST_F(FreeBSDModel, ListioAtTheCapQueuesSomeAndSaysEagain) {
  SetSysctl("vfs.aio.max_aio_queue_per_proc", 2);
  aiocb* list[4];
  for (int i = 0; i < 4; ++i) list[i] = Cb(fd_, buf_[i], 10, 0, nullptr);
  EXPECT_EQ(lio_listio(LIO_NOWAIT, list, 4, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
  for (int i = 0; i < 2; ++i) {
    WaitDone(list[i]);
    EXPECT_EQ(aio_error(list[i]), 0);
  }
  for (int i = 2; i < 4; ++i) {
    EXPECT_EQ(aio_error(list[i]), EAGAIN);
    EXPECT_EQ(aio_return(list[i]), -1);
    EXPECT_EQ(errno, EINVAL);
    Forget(list[i]);
  }
}

// kern_lio_listio: any refusal other than for resources makes the call EIO;
// the others are queued and complete.
TEST_F(FreeBSDModel, ListioWithABadDescriptorIsEioAndTheRestRun) {
  aiocb* list[3] = {Cb(fd_, buf_[0], 10, 0, nullptr), Cb(-1, buf_[1], 10, 0, nullptr),
                    Cb(fd_, buf_[2], 10, 0, nullptr)};
  EXPECT_EQ(lio_listio(LIO_NOWAIT, list, 3, nullptr), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(aio_error(list[1]), EBADF);
  Forget(list[1]);
  WaitDone(list[0]);
  WaitDone(list[2]);
  EXPECT_EQ(aio_error(list[0]), 0);
  EXPECT_EQ(aio_error(list[2]), 0);
}

// vfs.aio.max_aio_queue_per_proc counts every job the process holds, finished
// ones too until aio_return; aio_fsync is refused with EAGAIN there as well.
TEST_F(FreeBSDModel, QueueCapCountsUntilAioReturnAndRefusesFsync) {
  SetSysctl("vfs.aio.max_aio_queue_per_proc", 2);
  aiocb* a = Cb(fd_, buf_[0], 10, 0, nullptr);
  aiocb* b = Cb(fd_, buf_[1], 10, 0, nullptr);
  ASSERT_EQ(aio_read(a), 0);
  ASSERT_EQ(aio_read(b), 0);
  WaitDone(a);
  WaitDone(b);
  aiocb* c = Cb(fd_, buf_[2], 10, 0, nullptr);
  EXPECT_EQ(aio_read(c), -1);
  EXPECT_EQ(errno, EAGAIN);
  aiocb* f = Cb(fd_, nullptr, 0, 0, nullptr);
  EXPECT_EQ(aio_fsync(O_DSYNC, f), -1);
  EXPECT_EQ(errno, EAGAIN);
  Forget(c);
  Forget(f);
  EXPECT_EQ(aio_return(a), 10);
  Forget(a);
  EXPECT_EQ(aio_read(c), 0);
  owned_.push_back(c);
}

// aio_fsync(2) / aio_queue_file: a sync waits for the earlier transfers of its
// file; its event comes after theirs.
TEST_F(FreeBSDModel, FsyncCompletesAfterEarlierWrites) {
  faio_model_set_job_delay_us(20000);
  aiocb* w = Cb(fd_, buf_[0], 512, 0, nullptr, LIO_WRITE);
  aiocb* f = Cb(fd_, nullptr, 0, 0, nullptr);
  ASSERT_EQ(aio_write(w), 0);
  ASSERT_EQ(aio_fsync(O_DSYNC, f), 0);
  struct kevent ev[2];
  ASSERT_EQ(Kevent(ev, 1, 5000), 1);
  EXPECT_EQ(ev[0].ident, reinterpret_cast<uintptr_t>(w));
  EXPECT_EQ(aio_return(w), 512);
  Forget(w);
  ASSERT_EQ(Kevent(ev, 1, 5000), 1);
  EXPECT_EQ(ev[0].ident, reinterpret_cast<uintptr_t>(f));
}

// aio_cancel(2): a queued job is cancelled - it completes with ECANCELED and its
// event is still posted (normal notification occurs), so it must still be
// collected; a running one is AIO_NOTCANCELED; a finished one AIO_ALLDONE.
TEST_F(FreeBSDModel, CancelledJobStillPostsItsEvent) {
  faio_model_hold_jobs(1);
  int cookie = 0;
  aiocb* cb = Cb(fd_, buf_[0], 10, 0, &cookie);
  ASSERT_EQ(aio_read(cb), 0);
  EXPECT_EQ(aio_error(cb), EINPROGRESS);
  EXPECT_EQ(aio_cancel(fd_, cb), AIO_CANCELED);
  EXPECT_EQ(aio_error(cb), ECANCELED);
  struct kevent ev[2];
  ASSERT_EQ(Kevent(ev, 2, 1000), 1);
  EXPECT_EQ(ev[0].udata, &cookie);
  EXPECT_EQ(aio_return(cb), -1);
  EXPECT_EQ(errno, ECANCELED);
  Forget(cb);
  EXPECT_EQ(aio_cancel(fd_, cb), AIO_ALLDONE);
  faio_model_hold_jobs(0);

  SetSysctl("vfs.aio.enable_unsafe", 1);
  int p[2];
  Pipe(p);
  aiocb* r = Cb(p[0], buf_[1], 10, 0, nullptr);
  ASSERT_EQ(aio_read(r), 0);
  faio_model_counters c;
  for (int i = 0; i < 5000; ++i) {
    faio_model_get_counters(&c);
    if (c.jobs_running == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(c.jobs_running, 1u);
  EXPECT_EQ(aio_cancel(p[0], r), AIO_NOTCANCELED);
  ASSERT_EQ(write(p[1], "hello", 5), 5);
  WaitDone(r);
  EXPECT_EQ(aio_return(r), 5);
  Forget(r);
  EXPECT_EQ(aio_cancel(-1, nullptr), -1);
  EXPECT_EQ(errno, EBADF);
}

// aio(4): pipes, sockets and devices are "unsafe": EOPNOTSUPP unless
// vfs.aio.enable_unsafe.
TEST_F(FreeBSDModel, UnsafeFilesNeedEnableUnsafe) {
  int p[2];
  Pipe(p);
  aiocb* cb = Cb(p[0], buf_[0], 10, 0, nullptr);
  EXPECT_EQ(aio_read(cb), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(aio_error(cb), EOPNOTSUPP);
  Forget(cb);
  SetSysctl("vfs.aio.enable_unsafe", 1);
  ASSERT_EQ(aio_read(cb), 0);
  owned_.push_back(cb);
  ASSERT_EQ(write(p[1], "x", 1), 1);
  WaitDone(cb);
  EXPECT_EQ(aio_return(cb), 1);
  Forget(cb);
  // An anonymous pipe has no vnode: aio_fsync of it is EINVAL.
  aiocb* f = Cb(p[1], nullptr, 0, 0, nullptr);
  EXPECT_EQ(aio_fsync(O_SYNC, f), -1);
  EXPECT_EQ(errno, EINVAL);
  Forget(f);
}

// vfs.aio.max_aio_per_proc bounds the jobs running at once; the others wait
// in the queue, they are not refused.
TEST_F(FreeBSDModel, MaxAioPerProcBoundsRunningJobs) {
  SetSysctl("vfs.aio.max_aio_per_proc", 2);
  faio_model_set_job_delay_us(30000);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(aio_read(Cb(fd_, buf_[i], 10, 0, nullptr)), 0);
  faio_model_counters c;
  uint64_t most = 0;
  for (aiocb* cb : owned_) {
    while (aio_error(cb) == EINPROGRESS) {
      faio_model_get_counters(&c);
      most = std::max(most, c.jobs_running);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(most, 2u);
}

// sysctlbyname(3): the vfs.aio limits; absent (ENOENT) without aio(4).
TEST_F(FreeBSDModel, SysctlsAndTheModuleNotLoaded) {
  int v = 0;
  size_t len = sizeof(v);
  ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_queue_per_proc", &v, &len, nullptr, 0), 0);
  EXPECT_EQ(v, 256);
  ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_per_proc", &v, &len, nullptr, 0), 0);
  EXPECT_EQ(v, 32);
  ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_queue", &v, &len, nullptr, 0), 0);
  EXPECT_EQ(v, 1024);
  EXPECT_EQ(sysctlbyname("vfs.aio.no_such", &v, &len, nullptr, 0), -1);
  EXPECT_EQ(errno, ENOENT);
  faio_model_set_aio_loaded(0);
  EXPECT_EQ(sysctlbyname("vfs.aio.max_aio_per_proc", &v, &len, nullptr, 0), -1);
  EXPECT_EQ(errno, ENOENT);
}

}  // namespace
