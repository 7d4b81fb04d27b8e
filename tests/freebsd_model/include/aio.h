// aio.h - the FreeBSD model's <aio.h> (tests/freebsd_model/README.md).
//
// Test infrastructure only, never installed. A test-only build puts this
// directory before the system's include path, so that the kqueue backend's own
// source (src/backend/posix_aio/*.cc) compiles against FreeBSD's interface and
// runs on Linux against the model (model.cc). Names, constants and the aiocb's
// fields follow FreeBSD's <sys/aio.h>; the sigevent is the host's (glibc), with
// FreeBSD's spelling of the kevent fields mapped onto it as FreeBSD itself does
// (sigev_notify_kqueue is sigev_signo there too). The functions are renamed
// faio_model_* so that they never interpose on the host's POSIX AIO.
#ifndef FAIO_TESTS_FREEBSD_MODEL_INCLUDE_AIO_H_
#define FAIO_TESTS_FREEBSD_MODEL_INCLUDE_AIO_H_

#ifndef FAIO_FREEBSD_MODEL
#error "tests/freebsd_model/include is only for the FreeBSD model build (FAIO_FREEBSD_MODEL)"
#endif

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

// Returns of aio_cancel.
#define AIO_CANCELED 0x1
#define AIO_NOTCANCELED 0x2
#define AIO_ALLDONE 0x3

// aio_lio_opcode.
#define LIO_NOP 0x0
#define LIO_WRITE 0x1
#define LIO_READ 0x2
#define LIO_VECTORED 0x4
#define LIO_WRITEV (LIO_WRITE | LIO_VECTORED)
#define LIO_READV (LIO_READ | LIO_VECTORED)
#define LIO_SYNC 0x8
#define LIO_DSYNC (0x10 | LIO_SYNC)

// lio_listio modes.
#define LIO_NOWAIT 0x0
#define LIO_WAIT 0x1

// The most requests one lio_listio takes (lio_listio(2): EINVAL above it).
#define AIO_LISTIO_MAX 16

// sigev_notify: glibc's SIGEV_NONE/SIGEV_SIGNAL/SIGEV_THREAD/SIGEV_THREAD_ID
// stand; FreeBSD's SIGEV_KEVENT is 3, which glibc leaves unused.
#ifndef SIGEV_KEVENT
#define SIGEV_KEVENT 3
#endif
#define sigev_notify_kqueue sigev_signo
#define sigev_notify_kevent_flags _sigev_un._tid

struct __aiocb_private {
  long status;
  long error;
  void* spare;
};

typedef struct aiocb {
  int aio_fildes;
  off_t aio_offset;
  volatile void* aio_buf;
  size_t aio_nbytes;
  int __spare__[2];
  void* __spare2__;
  int aio_lio_opcode;
  int aio_reqprio;
  struct __aiocb_private _aiocb_private;
  struct sigevent aio_sigevent;
} aiocb_t;

// A vectored job's iovec array and its length (FreeBSD's spelling).
#define aio_iov aio_buf
#define aio_iovcnt aio_nbytes

#define aio_read faio_model_aio_read
#define aio_write faio_model_aio_write
#define aio_fsync faio_model_aio_fsync
#define lio_listio faio_model_lio_listio
#define aio_error faio_model_aio_error
#define aio_return faio_model_aio_return
#define aio_cancel faio_model_aio_cancel
#define aio_suspend faio_model_aio_suspend

#ifdef __cplusplus
extern "C" {
#endif

int aio_read(struct aiocb* cb);
int aio_write(struct aiocb* cb);
int aio_fsync(int op, struct aiocb* cb);
int lio_listio(int mode, struct aiocb* const list[], int nent, struct sigevent* sig);
int aio_error(const struct aiocb* cb);
ssize_t aio_return(struct aiocb* cb);
int aio_cancel(int fd, struct aiocb* cb);
int aio_suspend(const struct aiocb* const list[], int nent, const struct timespec* timeout);

#ifdef __cplusplus
}
#endif

#endif  // FAIO_TESTS_FREEBSD_MODEL_INCLUDE_AIO_H_
