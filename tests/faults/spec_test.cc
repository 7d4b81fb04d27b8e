// spec_test.cc - the fault spec grammar (src/backend/fault/fault_spec.h): what
// good specs mean, and that bad ones are refused with a sentence naming the
// bad item, by the parser and by context creation.
#include <gtest/gtest.h>

#include <string>

#include "backend/fault/fault_spec.h"
#include "fault_util.h"

namespace faio_fault_test {
namespace {

using faio::detail::FaultKind;
using faio::detail::FaultSpec;
using faio::detail::FaultTrigger;
using faio::detail::ParseFaultSpec;

FaultSpec Parse(const char* text) {
  FaultSpec spec;
  std::string error;
  EXPECT_TRUE(ParseFaultSpec(text, &spec, &error)) << text << ": " << error;
  return spec;
}

TEST(FaultSpec, EmptyAndNullMeanNoFaults) {
  for (const char* t : {static_cast<const char*>(nullptr), "", "   "}) {
    FaultSpec s = Parse(t);
    EXPECT_TRUE(s.rules.empty());
    EXPECT_TRUE(s.inner.empty());
    EXPECT_EQ(s.seed, 1u);
    EXPECT_FALSE(s.log);
  }
}

TEST(FaultSpec, SettingsAndRules) {
  FaultSpec s = Parse(" seed=42 , inner=threads,log, eio/write#3, enospc/write+flush#10+ ");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.inner, "threads");
  EXPECT_TRUE(s.log);
  ASSERT_EQ(s.rules.size(), 2u);
  EXPECT_EQ(s.rules[0].kind, FaultKind::kError);
  EXPECT_EQ(s.rules[0].error, EIO);
  EXPECT_EQ(s.rules[0].ops, faio::detail::kFaultWrite);
  EXPECT_EQ(s.rules[0].trigger, FaultTrigger::kNth);
  EXPECT_EQ(s.rules[0].n, 3u);
  EXPECT_EQ(s.rules[0].text, "eio/write#3");
  EXPECT_EQ(s.rules[1].error, ENOSPC);
  EXPECT_EQ(s.rules[1].ops, faio::detail::kFaultWrite | faio::detail::kFaultFlush);
  EXPECT_EQ(s.rules[1].trigger, FaultTrigger::kFromNth);
  EXPECT_EQ(s.rules[1].n, 10u);
}

TEST(FaultSpec, EveryFaultKind) {
  FaultSpec s = Parse(
      "efbig,eintr%7,eagain/read,submit-eio#1,submit-eagain/flush%2,short,corrupt#4,"
      "delay=5ms,reorder,reorder=300us,crash,crash/write#9,delay=2s/flush");
  ASSERT_EQ(s.rules.size(), 13u);
  EXPECT_EQ(s.rules[0].kind, FaultKind::kError);
  EXPECT_EQ(s.rules[0].error, EFBIG);
  EXPECT_EQ(s.rules[0].ops, faio::detail::kFaultAllOps);
  EXPECT_EQ(s.rules[0].trigger, FaultTrigger::kAlways);
  EXPECT_EQ(s.rules[1].error, EINTR);
  EXPECT_EQ(s.rules[1].trigger, FaultTrigger::kOneIn);
  EXPECT_EQ(s.rules[1].n, 7u);
  EXPECT_EQ(s.rules[2].error, EAGAIN);
  EXPECT_EQ(s.rules[2].ops, faio::detail::kFaultRead);
  EXPECT_EQ(s.rules[3].kind, FaultKind::kSubmitError);
  EXPECT_EQ(s.rules[3].error, EIO);
  EXPECT_EQ(s.rules[4].kind, FaultKind::kSubmitError);
  EXPECT_EQ(s.rules[4].error, EAGAIN);
  EXPECT_EQ(s.rules[4].ops, faio::detail::kFaultFlush);
  EXPECT_EQ(s.rules[5].kind, FaultKind::kShort);
  EXPECT_EQ(s.rules[5].ops, faio::detail::kFaultRead | faio::detail::kFaultWrite);
  EXPECT_EQ(s.rules[6].kind, FaultKind::kCorrupt);
  EXPECT_EQ(s.rules[6].ops, faio::detail::kFaultRead);
  EXPECT_EQ(s.rules[7].kind, FaultKind::kDelay);
  EXPECT_EQ(s.rules[7].delay.count(), 5000);
  EXPECT_EQ(s.rules[8].kind, FaultKind::kReorder);
  EXPECT_EQ(s.rules[8].delay.count(), 2000);
  EXPECT_EQ(s.rules[9].delay.count(), 300);
  EXPECT_EQ(s.rules[10].kind, FaultKind::kCrash);
  EXPECT_EQ(s.rules[10].trigger, FaultTrigger::kAlways);
  EXPECT_EQ(s.rules[11].trigger, FaultTrigger::kNth);
  EXPECT_EQ(s.rules[11].ops, faio::detail::kFaultWrite);
  EXPECT_EQ(s.rules[12].delay.count(), 2000000);
  EXPECT_EQ(s.rules[12].ops, faio::detail::kFaultFlush);
}

TEST(FaultSpec, BadSpecsNameTheItem) {
  struct Case {
    const char* spec;
    const char* item;
  };
  const Case cases[] = {
      {"eio,", "''"},                    // stray comma
      {",eio", "''"},                    //
      {"eio,,short", "''"},              //
      {"ebadf", "'ebadf'"},              // unknown error
      {"submit-", "'submit-'"},          //
      {"submit-short", "'submit-short'"},
      {"eio/append", "'eio/append'"},    // unknown op
      {"eio/read+", "'eio/read+'"},      //
      {"eio/", "'eio/'"},                //
      {"eio#0", "'eio#0'"},              // triggers count from 1
      {"eio#", "'eio#'"},                //
      {"eio#x", "'eio#x'"},              //
      {"eio%0", "'eio%0'"},              //
      {"eio%3+", "'eio%3+'"},            // '+' only after '#N'
      {"eio#99999999999999999999", "'eio#99999999999999999999'"},
      {"short/flush", "'short/flush'"},  // nothing to shorten
      {"corrupt/write", "'corrupt/write'"},
      {"delay", "'delay'"},              // needs a duration
      {"delay=", "'delay='"},            //
      {"delay=5", "'delay=5'"},          // needs a unit
      {"delay=5min", "'delay=5min'"},    //
      {"delay=61s", "'delay=61s'"},      // at most 60 s
      {"reorder=", "'reorder='"},        //
      {"crash%2", "'crash%2'"},          // power is lost once
      {"crash#2+", "'crash#2+'"},        //
      {"seed=", "'seed='"},              //
      {"seed=-1", "'seed=-1'"},          //
      {"inner=", "'inner='"},            //
      {"inner=fault", "'inner=fault'"},  // no recursion
      {"EIO", "'EIO'"},                  // names are lower case
  };
  for (const Case& c : cases) {
    FaultSpec spec;
    std::string error;
    EXPECT_FALSE(ParseFaultSpec(c.spec, &spec, &error)) << c.spec;
    EXPECT_NE(error.find(c.item), std::string::npos) << c.spec << " -> " << error;
    EXPECT_EQ(error.rfind("fault spec: ", 0), 0u) << error;
  }
}

TEST(FaultSpec, BadSpecFailsContextCreation) {
  faio_ctx* c = nullptr;
  int st = FaultCtx("eio#0", &c);
  // A bad spec is the caller's error, not a missing backend.
  EXPECT_EQ(st, FAIO_E_INVALID_PARAMETER) << faio_status_name(st);
  EXPECT_EQ(c, nullptr);
  c = nullptr;
  EXPECT_NE(FaultCtx("inner=nosuch", &c), FAIO_OK);
  EXPECT_EQ(c, nullptr);
}

TEST(FaultSpec, EnvironmentSpecAndProbeReason) {
  const char* old = getenv("FAIO_FAULTS");
  std::string saved = old != nullptr ? old : "";
  ASSERT_EQ(setenv("FAIO_FAULTS", "eio/sometimes", 1), 0);
  faio_backend_info info[16];
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_get_backends(info, 16, &n));
  bool seen = false;
  for (size_t i = 0; i < n && i < 16; ++i) {
    if (strcmp(info[i].name, "fault") != 0) continue;
    seen = true;
    EXPECT_EQ(info[i].available, 0);
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, info[i].status);
    EXPECT_NE(strstr(info[i].reason, "eio/sometimes"), nullptr) << info[i].reason;
  }
  EXPECT_TRUE(seen);
  // The options' spec wins over the environment's.
  faio_ctx* c = nullptr;
  EXPECT_ST(FAIO_OK, FaultCtx("", &c));
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  // Without one in the options, the environment's is used.
  c = nullptr;
  EXPECT_NE(FaultCtx(nullptr, &c), FAIO_OK);
  ASSERT_EQ(setenv("FAIO_FAULTS", "eio/write#1", 1), 0);
  TempFile f;
  ASSERT_ST(FAIO_OK, FaultCtx(nullptr, &c));
  faio_req* r = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&r));
  Bytes data = Pattern(512, 1);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), 0, data.data(), data.size(), nullptr));
  Outcome o = RunOne(c, r);
  EXPECT_ST(FAIO_E_IO, o.status);
  EXPECT_EQ(o.host_error, EIO);
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  if (old != nullptr) {
    setenv("FAIO_FAULTS", saved.c_str(), 1);
  } else {
    unsetenv("FAIO_FAULTS");
  }
}

}  // namespace
}  // namespace faio_fault_test
