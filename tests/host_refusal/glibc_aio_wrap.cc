// glibc_aio_wrap.cc - the link-time wraps of glibc_aio_wrap.h.
#include "glibc_aio_wrap.h"

#include <aio.h>

#include <mutex>
#include <vector>

extern "C" {
int __real_lio_listio(int mode, struct aiocb* const list[], int nent, struct sigevent* sig);
int __real_aio_read(struct aiocb* cb);
int __real_aio_write(struct aiocb* cb);
int __real_aio_fsync(int op, struct aiocb* cb);
int __wrap_lio_listio(int mode, struct aiocb* const list[], int nent, struct sigevent* sig);
int __wrap_aio_read(struct aiocb* cb);
int __wrap_aio_write(struct aiocb* cb);
int __wrap_aio_fsync(int op, struct aiocb* cb);
}

namespace faio_test {
namespace {

std::mutex mu;
bool armed = false;  // under mu
AioRefusal plan;     // under mu
AioCalls seen;       // under mu

// Under mu: is cb one of the judged transfers, and is it refused? (in_list:
// a lio_listio entry, skipped by glibc when its opcode is LIO_NOP.)
bool Refuse(const struct aiocb* cb, bool in_list) {
  if (!armed || cb == nullptr || cb->aio_fildes != plan.fd ||
      (in_list && cb->aio_lio_opcode == LIO_NOP)) {
    return false;
  }
  long i = seen.transfers++;
  bool refused = i >= plan.refuse_from && i < plan.refuse_to;
  if (refused) ++seen.refused;
  return refused;
}

// Under mu: what glibc leaves in a refused aiocb.
void MarkRefused(struct aiocb* cb) {
  if (!plan.untouched) cb->__error_code = EAGAIN;
}

}  // namespace

void ArmAioRefusal(const AioRefusal& r) {
  std::lock_guard<std::mutex> lock(mu);
  plan = r;
  seen = AioCalls();
  armed = true;
}

void DisarmAioRefusal() {
  std::lock_guard<std::mutex> lock(mu);
  armed = false;
}

AioCalls SeenAioCalls() {
  std::lock_guard<std::mutex> lock(mu);
  return seen;
}

}  // namespace faio_test

using faio_test::MarkRefused;
using faio_test::Refuse;

int __wrap_lio_listio(int mode, struct aiocb* const list[], int nent, struct sigevent* sig) {
  std::unique_lock<std::mutex> lock(faio_test::mu);
  if (!faio_test::armed || nent <= 0) {
    lock.unlock();
    return __real_lio_listio(mode, list, nent, sig);
  }
  std::vector<char> refused(static_cast<size_t>(nent), 0);
  bool judged = false;
  bool any = false;
  for (int i = 0; i < nent; i++) {
    judged = judged || (list[i] != nullptr && list[i]->aio_fildes == faio_test::plan.fd);
    refused[static_cast<size_t>(i)] = Refuse(list[i], true) ? 1 : 0;
    any = any || refused[static_cast<size_t>(i)] != 0;
  }
  if (judged) ++faio_test::seen.listio;
  if (!any) {
    lock.unlock();
    return __real_lio_listio(mode, list, nent, sig);
  }
  // glibc enqueues the others in order; hand it each run of them. The call
  // then fails as glibc's does when it refused any: -1 and listio_errno.
  for (int i = 0; i < nent;) {
    if (refused[static_cast<size_t>(i)] != 0) {
      MarkRefused(list[i]);
      ++i;
      continue;
    }
    int j = i;
    while (j < nent && refused[static_cast<size_t>(j)] == 0) ++j;
    (void)__real_lio_listio(mode, list + i, j - i, sig);
    i = j;
  }
  errno = faio_test::plan.listio_errno;
  return -1;
}

int __wrap_aio_read(struct aiocb* cb) {
  {
    std::lock_guard<std::mutex> lock(faio_test::mu);
    if (Refuse(cb, false)) {
      MarkRefused(cb);
      errno = EAGAIN;
      return -1;
    }
  }
  return __real_aio_read(cb);
}

int __wrap_aio_write(struct aiocb* cb) {
  {
    std::lock_guard<std::mutex> lock(faio_test::mu);
    if (Refuse(cb, false)) {
      MarkRefused(cb);
      errno = EAGAIN;
      return -1;
    }
  }
  return __real_aio_write(cb);
}

int __wrap_aio_fsync(int op, struct aiocb* cb) {
  {
    std::lock_guard<std::mutex> lock(faio_test::mu);
    if (faio_test::armed && cb != nullptr && cb->aio_fildes == faio_test::plan.fd) {
      ++faio_test::seen.fsyncs;
      if (faio_test::plan.fsync_refusals > 0) {
        --faio_test::plan.fsync_refusals;
        ++faio_test::seen.fsyncs_refused;
        MarkRefused(cb);
        errno = EAGAIN;
        return -1;
      }
    }
  }
  return __real_aio_fsync(op, cb);
}
