// sys/event.h - the FreeBSD model's <sys/event.h>: kqueue(2)/kevent(2) with the
// filters the kqueue backend uses, EVFILT_AIO and EVFILT_USER
// (tests/freebsd_model/README.md). Layout and constants as FreeBSD 12+'s; the
// functions are renamed faio_model_*.
#ifndef FAIO_TESTS_FREEBSD_MODEL_INCLUDE_SYS_EVENT_H_
#define FAIO_TESTS_FREEBSD_MODEL_INCLUDE_SYS_EVENT_H_

#ifndef FAIO_FREEBSD_MODEL
#error "tests/freebsd_model/include is only for the FreeBSD model build (FAIO_FREEBSD_MODEL)"
#endif

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_AIO (-3)
#define EVFILT_LIO (-10)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
#define EV_FLAG1 0x2000
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_FFNOP 0x00000000
#define NOTE_FFAND 0x40000000
#define NOTE_FFOR 0x80000000
#define NOTE_FFCOPY 0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff
#define NOTE_TRIGGER 0x01000000

#define kevent faio_model_kevent
#define kqueue faio_model_kqueue

struct kevent {
  uintptr_t ident;
  short filter;
  unsigned short flags;
  unsigned int fflags;
  int64_t data;
  void* udata;
  uint64_t ext[4];
};

#define EV_SET(kevp_, a, b, c, d, e, f) \
  do {                                  \
    struct kevent* kevp = (kevp_);      \
    (kevp)->ident = (a);                \
    (kevp)->filter = (b);               \
    (kevp)->flags = (c);                \
    (kevp)->fflags = (d);               \
    (kevp)->data = (e);                 \
    (kevp)->udata = (f);                \
    (kevp)->ext[0] = 0;                 \
    (kevp)->ext[1] = 0;                 \
    (kevp)->ext[2] = 0;                 \
    (kevp)->ext[3] = 0;                 \
  } while (0)

#ifdef __cplusplus
extern "C" {
#endif

int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);

#ifdef __cplusplus
}
#endif

#endif  // FAIO_TESTS_FREEBSD_MODEL_INCLUDE_SYS_EVENT_H_
