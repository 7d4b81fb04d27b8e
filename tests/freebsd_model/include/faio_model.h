// faio_model.h - knobs of the FreeBSD model, for tests (tests/freebsd_model/README.md).
//
// The model's limits are its sysctls, set the FreeBSD way with sysctlbyname(3)
// and a new value (vfs.aio.max_aio_per_proc, vfs.aio.max_aio_queue_per_proc,
// vfs.aio.max_aio_queue, vfs.aio.max_aio_procs, vfs.aio.enable_unsafe). At the
// first model call, FAIO_MODEL_SYSCTL="name=value,name=value" from the
// environment sets them too (how ctest configures the conformance run). What
// no FreeBSD interface controls is here: holding and slowing the jobs, a
// signal-like EINTR, whether the aio module is loaded, and counters.
#ifndef FAIO_TESTS_FREEBSD_MODEL_INCLUDE_FAIO_MODEL_H_
#define FAIO_TESTS_FREEBSD_MODEL_INCLUDE_FAIO_MODEL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// faio_model_reset puts every sysctl back to FreeBSD's default and clears the
// knobs below. Call it with no job in the model (between tests).
void faio_model_reset(void);

// faio_model_hold_jobs(1): the AIO daemons start no new job (queued jobs stay
// queued, so aio_cancel can take them); 0 lets them run.
void faio_model_hold_jobs(int hold);

// faio_model_set_job_delay_us: every job waits this long in its daemon before
// its transfer (0: none).
void faio_model_set_job_delay_us(uint32_t us);

// faio_model_complete_at_queue(1): a job is carried out inside the call that
// queues it (aio_read, aio_write, lio_listio), as FreeBSD does when the queueing
// completes it at once: its event is posted before that call returns.
void faio_model_complete_at_queue(int on);

// faio_model_set_aio_loaded(0): as if aio(4) were not loaded: the vfs.aio
// sysctls are absent (ENOENT) and the AIO calls fail with ENOSYS.
void faio_model_set_aio_loaded(int loaded);

// faio_model_inject_kevent_eintr: the next n kevent() calls that would block
// fail with EINTR at once, as if a signal had arrived.
void faio_model_inject_kevent_eintr(int n);

struct faio_model_counters {
  uint64_t jobs_queued;       // accepted by aio_read/aio_write/aio_fsync/lio_listio
  uint64_t jobs_refused;      // refused synchronously (EAGAIN, EOPNOTSUPP, EBADF, EINVAL)
  uint64_t jobs_cancelled;    // completed with ECANCELED by aio_cancel
  uint64_t aio_events;        // EVFILT_AIO events returned by kevent
  uint64_t aio_returns;       // successful aio_return calls (jobs freed)
  uint64_t jobs_outstanding;  // jobs the process holds (kaio_count): queued, running, done
  uint64_t jobs_running;      // jobs in a daemon now
};
void faio_model_get_counters(struct faio_model_counters* out);

#ifdef __cplusplus
}
#endif

#endif  // FAIO_TESTS_FREEBSD_MODEL_INCLUDE_FAIO_MODEL_H_
