// aio_limit_test.cc - fs.aio-max-nr exhausted. Linux kernel AIO contexts take
// their event slots from a system-wide pool (fs.aio-nr out of fs.aio-max-nr).
// The test takes what is left of it with io_setup in its own process (so the
// kernel gives it back even if the test dies; nothing global is changed), then
// checks that: a linux_aio context cannot be created (FAIO_E_INSUFFICIENT_RESOURCES),
// and faio_get_backends says FAIO_E_INSUFFICIENT_RESOURCES with host error EAGAIN
// and why; the automatic choice still makes a working context when it prefers
// another backend (io_uring), and answers the exhaustion when linux_aio is its
// choice (exhaustion is not absence: no fallback); a linux_aio context made
// before keeps working; and once the slots are given back linux_aio works again.
//
// Other processes creating AIO contexts meanwhile would fail too: ctest runs
// this test alone (RUN_SERIAL).
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conformance.h"
#include "kernel_faults.h"

namespace faio_test {
namespace {

long ReadLong(const char* path) {
  std::string s = faio_kf::ReadFileText(path);
  return s.empty() ? -1 : std::atol(s.c_str());
}

// AioHoard holds io_setup contexts until it dies.
class AioHoard {
 public:
  ~AioHoard() { Release(); }
  // Exhaust takes event slots until io_setup answers EAGAIN even for one;
  // returns "" or why it could not.
  std::string Exhaust() {
    for (unsigned chunk : {8192u, 1024u, 128u, 16u, 1u}) {
      for (int i = 0; i < 100000; i++) {
        aio_context_t c = 0;
        if (syscall(SYS_io_setup, chunk, &c) == 0) {
          held_.push_back(c);
          continue;
        }
        if (errno == EAGAIN) break;
        return std::string("io_setup failed: ") + std::strerror(errno);
      }
    }
    return "";
  }
  void Release() {
    for (aio_context_t c : held_) syscall(SYS_io_destroy, c);
    held_.clear();
  }
  size_t size() const { return held_.size(); }

 private:
  std::vector<aio_context_t> held_;
};

const faio_backend_info* FreshInfo(const std::string& name, std::vector<faio_backend_info>* v) {
  size_t n = 0;
  if (faio_get_backends(nullptr, 0, &n) != FAIO_OK) return nullptr;
  v->resize(n);
  if (faio_get_backends(v->data(), v->size(), &n) != FAIO_OK) return nullptr;
  for (const faio_backend_info& b : *v) {
    if (b.name != nullptr && name == b.name) return &b;
  }
  return nullptr;
}

// ExpectProbeSaysExhausted: faio_get_backends, asked now, reports linux_aio
// unavailable for want of fs.aio-max-nr slots (EAGAIN, named as such).
void ExpectProbeSaysExhausted(const char* when) {
  SCOPED_TRACE(when);
  std::vector<faio_backend_info> infos;
  const faio_backend_info* b = FreshInfo("linux_aio", &infos);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->available, 0);
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, b->status);
  EXPECT_EQ(b->host_error, EAGAIN);
  EXPECT_NE(std::string(b->reason).find("aio-max-nr"), std::string::npos) << b->reason;
}

int ReadOne(faio_ctx* ctx, int fd, Bytes* buf) {
  faio_req* r = nullptr;
  int s = faio_req_create(&r);
  if (s != FAIO_OK) return s;
  s = faio_req_prepare_read(r, fd, 0, buf->data(), buf->size(), nullptr);
  if (s == FAIO_OK) s = faio_ctx_submit(ctx, &r, 1);
  if (s == FAIO_OK) {
    faio_req* out = nullptr;
    uint32_t count = 0;
    s = faio_ctx_wait(ctx, 1, 10000, &out, 1, &count);
    if (s == FAIO_OK) s = count == 1 && out == r ? faio_req_result(r, nullptr) : FAIO_E_HOST;
  }
  faio_req_destroy(r);
  return s;
}

faio_ctx* Create(const char* backend, int* status) {
  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = backend;
  faio_ctx* c = nullptr;
  *status = faio_ctx_create_ex(&c, &o);
  return *status == FAIO_OK ? c : nullptr;
}

// CannotExhaust: why a test cannot exhaust fs.aio-max-nr for linux_aio here,
// or "".
std::string CannotExhaust() {
  const faio_backend_info* info = FindBackend("linux_aio");
  if (info == nullptr) return "linux_aio is not compiled in";
  if (!info->available) return std::string("linux_aio unavailable here: ") + info->reason;
  long max_nr = ReadLong("/proc/sys/fs/aio-max-nr");
  long nr = ReadLong("/proc/sys/fs/aio-nr");
  if (max_nr < 0 || nr < 0) return "no /proc/sys/fs/aio-max-nr";
  if (max_nr - nr > (1L << 24)) {
    return "fs.aio-max-nr=" + std::to_string(max_nr) + " is too large to exhaust in a test";
  }
  return "";
}

TEST(AioMaxNr, ExhaustedIsInsufficientResourcesAndAutoFallsBack) {
  const std::string cannot = CannotExhaust();
  if (!cannot.empty()) GTEST_SKIP() << cannot;
  TempFile f;
  ASSERT_TRUE(f.ok());
  Bytes content = RandomBytes(4096, 1);
  ASSERT_TRUE(f.Write(content));
  Bytes buf(4096);

  int s = 0;
  faio_ctx* before = Create("linux_aio", &s);
  ASSERT_ST(FAIO_OK, s);
  AioHoard hoard;
  std::string why = hoard.Exhaust();
  if (!why.empty()) {
    faio_ctx_destroy(before);
    GTEST_SKIP() << why;
  }
  RecordProperty("aio_max_nr", faio_kf::ReadFileText("/proc/sys/fs/aio-max-nr"));
  RecordProperty("aio_nr_exhausted", std::to_string(ReadLong("/proc/sys/fs/aio-nr")));
  RecordProperty("contexts_held", std::to_string(hoard.size()));

  // faio_get_backends' probe keeps its own context of 2 events idle between
  // calls (FindBackend's call left it): taking it from the store must not
  // make the probe say linux_aio is available when no new one could be made.
  ExpectProbeSaysExhausted("the probe's idle context taken from the store");

  // Named: no fallback, and the exhaustion is said as such.
  faio_ctx* named = Create("linux_aio", &s);
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, s);
  EXPECT_EQ(named, nullptr);
  if (named != nullptr) faio_ctx_destroy(named);
  // That create, refused, gave back the idle kernel AIO contexts this process
  // kept (faio_get_backends' probe left one), as it must: the hoard takes
  // their slots too.
  why = hoard.Exhaust();
  ASSERT_EQ(why, "");
  ExpectProbeSaysExhausted("a new io_setup(2) refused");

  // Automatic (unless FAIO_BACKEND forces one): a backend it prefers to
  // linux_aio works; if linux_aio is its choice, the exhaustion is the answer.
  const faio_backend_info* uring = FindBackend("io_uring");
  bool prefers_another = uring != nullptr && uring->available;
  if (std::getenv("FAIO_BACKEND") == nullptr) {
    faio_ctx* any = Create(nullptr, &s);
    EXPECT_ST(prefers_another ? FAIO_OK : FAIO_E_INSUFFICIENT_RESOURCES, s);
    if (any != nullptr) {
      EXPECT_STRNE(faio_ctx_backend(any), "linux_aio");
      EXPECT_ST(FAIO_OK, ReadOne(any, f.fd(), &buf));
      EXPECT_TRUE(buf == content);
      EXPECT_ST(FAIO_OK, faio_ctx_destroy(any));
    }
  }
  // A context made before the pool ran dry needs nothing more from it.
  std::fill(buf.begin(), buf.end(), 0);
  EXPECT_ST(FAIO_OK, ReadOne(before, f.fd(), &buf));
  EXPECT_TRUE(buf == content);

  hoard.Release();
  faio_ctx* after = Create("linux_aio", &s);
  EXPECT_ST(FAIO_OK, s) << "linux_aio did not recover once the slots were given back";
  if (after != nullptr) {
    std::fill(buf.begin(), buf.end(), 0);
    EXPECT_ST(FAIO_OK, ReadOne(after, f.fd(), &buf));
    EXPECT_TRUE(buf == content);
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(after));
  }
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(before));
}

TEST(AioMaxNr, IdleContextsAreGivenBackWhenTheSlotsRunOut) {
  // A destroyed linux_aio context's kernel AIO context is kept idle for the
  // next one of its size (io_destroy waits ~32 ms for an RCU grace period).
  // The slots it holds belong to everybody: when they run out, a create
  // destroys the idle ones and asks again. Without that give-back the create
  // below fails (the hoard leaves no slot), and without the store the idle
  // context's slots went back at destroy and the hoard took them.
  const std::string cannot = CannotExhaust();
  if (!cannot.empty()) GTEST_SKIP() << cannot;
  TempFile f;
  ASSERT_TRUE(f.ok());
  Bytes content = RandomBytes(4096, 2);
  ASSERT_TRUE(f.Write(content));
  Bytes buf(4096);

  // Capacity 16 (33 events: fs.aio-nr is charged io_setup's nr) left idle;
  // then capacity 4 (9 events: another size, so the idle one is not simply
  // taken).
  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = "linux_aio";
  o.capacity = 16;
  faio_ctx* big = nullptr;
  ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&big, &o));
  ASSERT_ST(FAIO_OK, ReadOne(big, f.fd(), &buf));
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(big));

  AioHoard hoard;
  std::string why = hoard.Exhaust();
  if (!why.empty()) GTEST_SKIP() << why;
  aio_context_t probe = 0;
  ASSERT_NE(syscall(SYS_io_setup, 1u, &probe), 0) << "the hoard left slots";

  o.capacity = 4;
  faio_ctx* small = nullptr;
  ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&small, &o)) << "the idle context was not given back";
  std::fill(buf.begin(), buf.end(), 0);
  EXPECT_ST(FAIO_OK, ReadOne(small, f.fd(), &buf));
  EXPECT_TRUE(buf == content);
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(small));
}

}  // namespace
}  // namespace faio_test
