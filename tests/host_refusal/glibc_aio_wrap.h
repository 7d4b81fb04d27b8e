// glibc_aio_wrap.h - glibc's POSIX AIO submission calls, wrapped at link time
// (-Wl,--wrap=lio_listio,--wrap=aio_read,--wrap=aio_write,--wrap=aio_fsync;
// tests/host_refusal/CMakeLists.txt) so that a test can make them refuse.
//
// Disarmed, every call goes straight to glibc. Armed, the calls on one
// descriptor are judged: the transfers are numbered from 0 in the order glibc
// would enqueue them (across lio_listio, aio_read and aio_write calls), and
// those numbered in [refuse_from, refuse_to) are refused the way glibc refuses
// them - glibc really enqueues the others, a lio_listio that refused some
// returns -1 with listio_errno, and a refused aiocb's error code is EAGAIN
// (glibc failing to start a worker thread) or, with `untouched`, left as it was
// (glibc's request pool exhausted: __aio_enqueue_request returns before it
// sets the code, so aio_error then reads whatever the caller left there).
// The next fsync_refusals aio_fsync calls on the descriptor fail with EAGAIN
// the same way. Arm and Disarm may be called from any thread.
#ifndef FAIO_TESTS_HOST_REFUSAL_GLIBC_AIO_WRAP_H_
#define FAIO_TESTS_HOST_REFUSAL_GLIBC_AIO_WRAP_H_

#include <errno.h>

namespace faio_test {

struct AioRefusal {
  int fd = -1;
  long refuse_from = 0;
  long refuse_to = 0;
  int listio_errno = EAGAIN;
  bool untouched = false;
  int fsync_refusals = 0;
};

struct AioCalls {
  long transfers = 0;  // transfers on the descriptor seen since Arm
  long refused = 0;    // of them refused
  long listio = 0;     // lio_listio calls that carried one of them
  long fsyncs = 0;     // aio_fsync calls on the descriptor
  long fsyncs_refused = 0;
};

void ArmAioRefusal(const AioRefusal& r);
void DisarmAioRefusal();
AioCalls SeenAioCalls();

// ArmedAioRefusal arms for its lifetime.
class ArmedAioRefusal {
 public:
  explicit ArmedAioRefusal(const AioRefusal& r) { ArmAioRefusal(r); }
  ~ArmedAioRefusal() { DisarmAioRefusal(); }
  ArmedAioRefusal(const ArmedAioRefusal&) = delete;
  ArmedAioRefusal& operator=(const ArmedAioRefusal&) = delete;
};

}  // namespace faio_test

#endif  // FAIO_TESTS_HOST_REFUSAL_GLIBC_AIO_WRAP_H_
