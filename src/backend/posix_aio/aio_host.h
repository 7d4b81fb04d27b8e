// aio_host.h - which POSIX AIO the posix_aio backend's source compiles against.
//
//   FAIO_FREEBSD_AIO  FreeBSD's aio(4): SIGEV_KEVENT, the vfs.aio sysctls,
//                     synchronous refusal of bad aiocbs. On FreeBSD, and in the
//                     test-only build that runs this same source on Linux
//                     against the model of tests/freebsd_model/
//                     (FAIO_FREEBSD_MODEL, whose headers come first on the
//                     include path).
//   FAIO_GLIBC_AIO    glibc's user-space POSIX AIO (threads in the process).
//
// Every host-specific block of the backend tests one of these, never
// __FreeBSD__ or __GLIBC__ itself, so that the model build takes FreeBSD's
// paths although it runs on glibc.
#ifndef FAIO_SRC_BACKEND_POSIX_AIO_AIO_HOST_H_
#define FAIO_SRC_BACKEND_POSIX_AIO_AIO_HOST_H_

#include <aio.h>  // also brings the C library's feature macros (__GLIBC__)

#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
#define FAIO_FREEBSD_AIO 1
#else
#define FAIO_FREEBSD_AIO 0
#endif

#if defined(__GLIBC__) && !FAIO_FREEBSD_AIO
#define FAIO_GLIBC_AIO 1
#else
#define FAIO_GLIBC_AIO 0
#endif

#if FAIO_FREEBSD_AIO
#include <sys/types.h>
// sys/types.h first: FreeBSD's sys/sysctl.h needs it.
#include <sys/sysctl.h>
#endif

#endif  // FAIO_SRC_BACKEND_POSIX_AIO_AIO_HOST_H_
