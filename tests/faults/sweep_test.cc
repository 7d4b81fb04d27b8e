// sweep_test.cc - fault sweeps in the SQLite manner: for N = 1, 2, ... run a
// small workload (write, flush, read back, overwrite, flush, read back) with
// the Nth request offered to the host failing, once (transient) or from then
// on (persistent), until a run offers fewer than N requests and so meets no
// fault. On every inner backend, for three kinds of failure:
//
//   eio            the host does the request, which completes with EIO
//   submit-eio     the host rejects the request at submission (never done)
//   submit-eagain  the host refuses it for now (submit's prefix rule)
//
// The oracle, checked on every run:
//   - the error is reported once, on the right request (the Nth offered; from
//     the Nth on when persistent), with the right status and host error, and
//     every other request succeeds (a flush after a failed one fails with the
//     same error, docs/contract.md, Flush: that is the one allowed repeat);
//   - no request is lost or completed twice: each accepted request comes back
//     from exactly one wait, and one refused stays prepared;
//   - nothing unwritten is reported written and everything acknowledged reads
//     back intact: a model of each block's possible contents (a failed write
//     leaves old or new; one the host never saw leaves old) must contain what
//     every successful read returns and what the file holds after the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "fault_util.h"

namespace faio_fault_test {
namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kBlocks = 16;
constexpr size_t kBatch = 4;
constexpr int kAttempts = 3;  // submissions of one request before giving up

enum class Kind { kEio, kSubmitEio, kSubmitEagain };
const char* KindName(Kind k) {
  return k == Kind::kEio ? "eio" : k == Kind::kSubmitEio ? "submit-eio" : "submit-eagain";
}

struct SweepParam {
  std::string inner;
  Kind kind;
  bool persistent;
};

// For gtest's (and ctest's) test listing.
void PrintTo(const SweepParam& p, std::ostream* os) {
  *os << KindName(p.kind) << (p.persistent ? "+" : "") << " on " << p.inner;
}

std::string ParamName(const ::testing::TestParamInfo<SweepParam>& info) {
  std::string k = KindName(info.param.kind);
  for (char& c : k) {
    if (c == '-') c = '_';
  }
  // The backend first: CI leaves posix_aio out under TSan with -E '/posix_aio'.
  return info.param.inner + "_" + k + (info.param.persistent ? "_persistent" : "_transient");
}

// One run of the workload with the Nth offered request failing.
class SweepRun {
 public:
  SweepRun(const SweepParam& p, uint64_t n) : p_(p), n_(n), model_(kBlocks, std::set<int>{0}) {}

  // Returns the number of requests offered to the host.
  uint64_t Go() {
    std::string spec = "inner=" + p_.inner + "," + KindName(p_.kind) + "#" +
                       std::to_string(n_) + (p_.persistent ? "+" : "");
    if (FaultCtx(spec.c_str(), &ctx_) != FAIO_OK) {
      ADD_FAILURE() << "cannot create a context with " << spec;
      return 0;
    }
    for (int v = 1; v <= 2; ++v) data_[v].resize(kBlocks);
    for (size_t b = 0; b < kBlocks; ++b) {
      data_[1][b] = Pattern(kBlock, static_cast<uint32_t>(100 + b));
      data_[2][b] = Pattern(kBlock, static_cast<uint32_t>(200 + b));
    }
    WriteBlocks(0, kBlocks, 1);
    Flush();
    ReadBlocks();
    WriteBlocks(kBlocks / 2, kBlocks, 2);
    Flush();
    ReadBlocks();
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx_));
    ctx_ = nullptr;
    // What the disk holds.
    Bytes disk = file_.Read();
    for (size_t b = 0; b < kBlocks; ++b) {
      int v = Identify(disk, b, b * kBlock);
      EXPECT_TRUE(model_[b].count(v) != 0)
          << Where() << "block " << b << " holds version " << v << " on disk";
    }
    for (faio_req* r : pool_) faio_req_destroy(r);
    return offered_;
  }

  int failures() const { return failures_; }

 private:
  std::string Where() const {
    return std::string(KindName(p_.kind)) + (p_.persistent ? "+" : "") + " N=" +
           std::to_string(n_) + " on " + p_.inner + ": ";
  }

  // Whether the request offered with ordinal k is hit.
  bool Hit(uint64_t k) const { return p_.persistent ? k >= n_ : k == n_; }

  faio_req* NewReq() {
    faio_req* r = nullptr;
    EXPECT_ST(FAIO_OK, faio_req_create(&r));
    pool_.push_back(r);
    return r;
  }

  // Which version of block b (0: zeros or absent, 1, 2; -1: none) buf holds
  // at off.
  int Identify(const Bytes& buf, size_t b, size_t off) const {
    if (buf.size() <= off) return 0;
    if (buf.size() < off + kBlock) return -1;
    auto at = buf.begin() + static_cast<std::ptrdiff_t>(off);
    if (std::all_of(at, at + kBlock, [](unsigned char c) { return c == 0; })) return 0;
    for (int v = 1; v <= 2; ++v) {
      if (std::equal(at, at + kBlock, data_[v][b].begin())) return v;
    }
    return -1;
  }

  // Submits the requests of `batch` (prepared) until each is accepted or
  // refused kAttempts times; counts what was offered. The accepted ones are
  // returned with their offer ordinals.
  void Submit(std::vector<faio_req*> batch, std::vector<std::pair<faio_req*, uint64_t>>* accepted,
              std::vector<faio_req*>* refused) {
    std::vector<int> attempts(batch.size(), 0);
    std::vector<size_t> idx(batch.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    while (!idx.empty()) {
      std::vector<faio_req*> rs;
      for (size_t i : idx) rs.push_back(batch[i]);
      int st = faio_ctx_submit(ctx_, rs.data(), rs.size());
      size_t took = 0;
      while (took < rs.size() && faio_req_result(rs[took], nullptr) != FAIO_E_NOT_SUBMITTED) {
        ++took;
      }
      for (size_t j = took; j < rs.size(); ++j) {
        EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(rs[j], nullptr)) << Where();
      }
      for (size_t j = 0; j < took; ++j) accepted->emplace_back(rs[j], ++offered_);
      if (st == FAIO_OK) {
        EXPECT_EQ(took, rs.size()) << Where();
        return;
      }
      EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, st) << Where();
      // The refused one was offered; a refusal only comes from the fault.
      ++offered_;
      EXPECT_EQ(p_.kind, Kind::kSubmitEagain) << Where();
      EXPECT_TRUE(Hit(offered_)) << Where() << "refused request " << offered_;
      ++failures_;
      size_t refused_at = idx[took];
      if (++attempts[refused_at] == kAttempts) {
        refused->push_back(batch[refused_at]);
        idx.erase(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(took) + 1);
      } else {
        idx.erase(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(took));
      }
    }
  }

  // Reaps until every accepted request came back, each exactly once.
  void ReapAll(const std::vector<std::pair<faio_req*, uint64_t>>& accepted) {
    std::multiset<faio_req*> got;
    while (got.size() < accepted.size()) {
      faio_req* out[8];
      uint32_t count = 0;
      int st = faio_ctx_wait(ctx_, 1, 10000, out, 8, &count);
      if (st != FAIO_OK) {
        ADD_FAILURE() << Where() << "wait: " << faio_status_name(st) << " with "
                      << got.size() << " of " << accepted.size() << " reaped";
        return;
      }
      got.insert(out, out + count);
    }
    for (const auto& [r, k] : accepted) EXPECT_EQ(got.count(r), 1u) << Where();
    EXPECT_EQ(got.size(), accepted.size()) << Where();
    uint32_t count = 9;
    faio_req* out[1];
    EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_wait(ctx_, 1, 0, out, 1, &count)) << Where();
  }

  // The status a request offered as k must have; `flush` for a flush.
  void Check(faio_req* r, uint64_t k, const char* what, bool* failed) {
    Outcome o = ResultOf(r);
    *failed = false;
    int want = FAIO_OK;
    int want_errno = 0;
    if (Hit(k)) {
      want = p_.kind == Kind::kSubmitEagain ? FAIO_E_INSUFFICIENT_RESOURCES : FAIO_E_IO;
      want_errno = p_.kind == Kind::kSubmitEagain ? EAGAIN : EIO;
    }
    EXPECT_ST(want, o.status) << Where() << what << " offered as " << k;
    EXPECT_EQ(want_errno, o.host_error) << Where() << what << " offered as " << k;
    if (o.status != FAIO_OK) {
      *failed = true;
      ++failures_;
    }
  }

  void WriteBlocks(size_t from, size_t to, int v) {
    for (size_t b0 = from; b0 < to; b0 += kBatch) {
      std::vector<faio_req*> batch;
      for (size_t b = b0; b < b0 + kBatch && b < to; ++b) {
        faio_req* r = NewReq();
        EXPECT_ST(FAIO_OK, faio_req_prepare_write(r, file_.fd(), static_cast<int64_t>(b * kBlock),
                                                  data_[v][b].data(), kBlock,
                                                  reinterpret_cast<void*>(b)));
        batch.push_back(r);
      }
      std::vector<std::pair<faio_req*, uint64_t>> accepted;
      std::vector<faio_req*> refused;
      Submit(batch, &accepted, &refused);
      ReapAll(accepted);
      for (const auto& [r, k] : accepted) {
        size_t b = reinterpret_cast<size_t>(faio_req_user(r));
        bool failed = false;
        Check(r, k, "write", &failed);
        if (!failed) {
          EXPECT_EQ(ResultOf(r).bytes, kBlock) << Where();
          model_[b] = {v};
        } else if (p_.kind == Kind::kEio) {
          model_[b].insert(v);  // the host did it: old or new
        }  // rejected at submission: never written
      }
    }
  }

  void Flush() {
    faio_req* r = NewReq();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      EXPECT_ST(FAIO_OK, faio_req_prepare_flush(r, file_.fd(), nullptr));
      bool offered = !sticky_;  // a flush after a failed one never reaches the host
      EXPECT_ST(FAIO_OK, faio_ctx_submit(ctx_, &r, 1)) << Where();
      uint64_t k = offered ? ++offered_ : 0;
      ReapAll({{r, k}});
      if (!offered) {
        Outcome o = ResultOf(r);
        EXPECT_ST(FAIO_E_IO, o.status) << Where() << "flush after a failed flush";
        EXPECT_EQ(o.host_error, EIO) << Where();
        return;
      }
      bool failed = false;
      Check(r, k, "flush", &failed);
      if (!failed) return;
      if (p_.kind == Kind::kEio) sticky_ = true;
      if (p_.kind != Kind::kSubmitEagain) return;  // retry only a refusal
    }
  }

  void ReadBlocks() {
    std::vector<Bytes> bufs(kBlocks, Bytes(kBlock));
    for (size_t b0 = 0; b0 < kBlocks; b0 += kBatch) {
      std::vector<faio_req*> batch;
      for (size_t b = b0; b < b0 + kBatch; ++b) {
        faio_req* r = NewReq();
        EXPECT_ST(FAIO_OK, faio_req_prepare_read(r, file_.fd(), static_cast<int64_t>(b * kBlock),
                                                 bufs[b].data(), kBlock,
                                                 reinterpret_cast<void*>(b)));
        batch.push_back(r);
      }
      std::vector<std::pair<faio_req*, uint64_t>> accepted;
      std::vector<faio_req*> refused;
      Submit(batch, &accepted, &refused);
      ReapAll(accepted);
      for (const auto& [r, k] : accepted) {
        size_t b = reinterpret_cast<size_t>(faio_req_user(r));
        bool failed = false;
        Check(r, k, "read", &failed);
        if (failed) continue;
        // A read past the end of what was ever written returns 0 bytes.
        Outcome o = ResultOf(r);
        Bytes got(bufs[b].begin(), bufs[b].begin() + static_cast<std::ptrdiff_t>(o.bytes));
        int v = o.bytes == 0 ? 0 : o.bytes == kBlock ? Identify(got, b, 0) : -1;
        EXPECT_TRUE(model_[b].count(v) != 0)
            << Where() << "read of block " << b << " gave version " << v << " (" << o.bytes
            << " bytes)";
      }
    }
  }

  const SweepParam p_;
  const uint64_t n_;
  faio_ctx* ctx_ = nullptr;
  TempFile file_;
  std::vector<Bytes> data_[3];
  std::vector<std::set<int>> model_;
  std::vector<faio_req*> pool_;
  uint64_t offered_ = 0;
  int failures_ = 0;
  bool sticky_ = false;
};

class FaultSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(FaultSweep, EveryRequestFailsOnce) {
  const SweepParam& p = GetParam();
  std::string why;
  if (!BackendAvailable(p.inner, &why)) {
    GTEST_SKIP() << p.inner << ": " << why;
  }
  uint64_t n = 1;
  int faults = 0;
  for (;; ++n) {
    SweepRun run(p, n);
    uint64_t offered = run.Go();
    faults += run.failures();
    if (HasFailure()) break;
    if (offered < n) {
      EXPECT_EQ(run.failures(), 0) << "N=" << n << " beyond the workload, yet a fault";
      break;
    }
    EXPECT_GT(run.failures(), 0) << "N=" << n << " within the workload, yet no fault";
    ASSERT_LT(n, 1000u) << "the sweep does not end";
  }
  EXPECT_GE(n, 50u) << "the workload offers every run at least 49 requests";
  // The figures docs/reliability.md quotes.
  printf("sweep %s%s on %s: %llu runs, %d faults observed\n", KindName(p.kind),
         p.persistent ? "+" : "", p.inner.c_str(), static_cast<unsigned long long>(n), faults);
  RecordProperty("runs", static_cast<int>(n));
  RecordProperty("faults", faults);
}

std::vector<SweepParam> Params() {
  std::vector<SweepParam> ps;
  for (const std::string& inner : InnerBackends()) {
    for (Kind k : {Kind::kEio, Kind::kSubmitEio, Kind::kSubmitEagain}) {
      for (bool persistent : {false, true}) ps.push_back({inner, k, persistent});
    }
  }
  return ps;
}

INSTANTIATE_TEST_SUITE_P(Sweep, FaultSweep, ::testing::ValuesIn(Params()), ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FaultSweep);

}  // namespace
}  // namespace faio_fault_test
