// sys/sysctl.h - the FreeBSD model's <sys/sysctl.h>: sysctlbyname(3) for the
// vfs.aio limits the model enforces (tests/freebsd_model/README.md).
#ifndef FAIO_TESTS_FREEBSD_MODEL_INCLUDE_SYS_SYSCTL_H_
#define FAIO_TESTS_FREEBSD_MODEL_INCLUDE_SYS_SYSCTL_H_

#ifndef FAIO_FREEBSD_MODEL
#error "tests/freebsd_model/include is only for the FreeBSD model build (FAIO_FREEBSD_MODEL)"
#endif

#include <stddef.h>

#define sysctlbyname faio_model_sysctlbyname

#ifdef __cplusplus
extern "C" {
#endif

int sysctlbyname(const char* name, void* oldp, size_t* oldlenp, const void* newp, size_t newlen);

#ifdef __cplusplus
}
#endif

#endif  // FAIO_TESTS_FREEBSD_MODEL_INCLUDE_SYS_SYSCTL_H_
