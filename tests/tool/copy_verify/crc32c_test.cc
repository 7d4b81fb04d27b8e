// crc32c_test.cc - the tool's own CRC-32C (verify/crc32c.h, used where there
// is no ISA-L, as on Windows) against ISA-L's crc32_iscsi: every length from
// 0 to 4096 bytes, at every alignment of the start, from random states, and
// some large inputs.
#include "verify/crc32c.h"

#include <gtest/gtest.h>
#include <isa-l/crc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "verify/block_format.h"

namespace faio::tool {
namespace {

uint32_t Isal(uint32_t state, const std::byte* data, size_t len) {
  return crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data)),
                     static_cast<int>(len), state);
}

std::vector<std::byte> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(n);
  for (std::byte& b : out) b = static_cast<std::byte>(rng());
  return out;
}

TEST(OwnCrc32c, KnownValue) {
  const char kText[] = "123456789";
  std::span<const std::byte> data(reinterpret_cast<const std::byte*>(kText), 9);
  EXPECT_EQ(~Crc32cTable(~0U, data.data(), data.size()), 0xE3069283U);
  EXPECT_EQ(~Crc32cRaw(~0U, data.data(), data.size()), 0xE3069283U);
  EXPECT_EQ(Crc32c(data), 0xE3069283U);
}

TEST(OwnCrc32c, EveryLengthUpTo4096MatchesIsal) {
  std::mt19937 rng(20261205);
  std::vector<std::byte> buf = RandomBytes(4096 + 8, 1);
  bool sse = Crc32cHaveSse42();
  for (size_t len = 0; len <= 4096; ++len) {
    const std::byte* p = buf.data() + len % 8;  // every alignment of the start
    uint32_t state = rng();
    uint32_t want = Isal(state, p, len);
    ASSERT_EQ(Crc32cTable(state, p, len), want) << "table, length " << len;
    if (sse) {
      ASSERT_EQ(Crc32cSse42(state, p, len), want) << "sse4.2, length " << len;
    }
    ASSERT_EQ(Crc32cRaw(state, p, len), want) << "length " << len;
  }
}

TEST(OwnCrc32c, LargeInputsMatchIsal) {
  for (size_t len : {size_t{1} << 16, (size_t{1} << 20) + 3, (size_t{9} << 20) + 4095}) {
    std::vector<std::byte> buf = RandomBytes(len + 1, len);
    for (size_t start : {size_t{0}, size_t{1}}) {
      uint32_t want = Isal(~0U, buf.data() + start, len);
      EXPECT_EQ(Crc32cTable(~0U, buf.data() + start, len), want) << len;
      if (Crc32cHaveSse42()) {
        EXPECT_EQ(Crc32cSse42(~0U, buf.data() + start, len), want) << len;
      }
    }
  }
}

TEST(OwnCrc32c, ContinuesAcrossPieces) {
  std::vector<std::byte> buf = RandomBytes(10000, 7);
  uint32_t whole = Crc32cRaw(~0U, buf.data(), buf.size());
  uint32_t state = ~0U;
  for (size_t off = 0; off < buf.size(); off += 777) {
    size_t n = std::min<size_t>(777, buf.size() - off);
    state = Crc32cTable(state, buf.data() + off, n);
  }
  EXPECT_EQ(state, whole);
}

}  // namespace
}  // namespace faio::tool
