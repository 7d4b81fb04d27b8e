// block_format_test.cc - the verify block format: CRC32C check values, the
// byte layout of the header, the reproducible payload, and every verdict of
// ClassifyBlock.
#include "verify/block_format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace faio::tool {
namespace {

std::span<const std::byte> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

uint64_t LoadLe(const std::vector<std::byte>& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | std::to_integer<uint64_t>(b[at + i]);
  return v;
}

std::vector<std::byte> Block(uint32_t len, uint64_t off, uint64_t seq, uint64_t seed) {
  std::vector<std::byte> b(len);
  EncodeBlock(b, off, seq, seed);
  return b;
}

TEST(Crc32c, KnownCheckValues) {
  // The CRC catalogue's check value, and RFC 3720 B.4's test vectors.
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
  std::vector<std::byte> zeros(32, std::byte{0}), ones(32, std::byte{0xFF});
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  std::vector<std::byte> inc(32);
  for (size_t i = 0; i < inc.size(); ++i) inc[i] = static_cast<std::byte>(i);
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
  EXPECT_EQ(Crc32c({}), 0u);
}

TEST(Crc32c, ContinuesAnEarlierValue) {
  EXPECT_EQ(Crc32c(Bytes("56789"), Crc32c(Bytes("1234"))), 0xE3069283u);
}

TEST(BlockFormat, HeaderLayoutByteByByte) {
  const uint64_t off = 0x0102030405060708ULL, seq = 0x1112131415161718ULL,
                 seed = 0x2122232425262728ULL;
  std::vector<std::byte> b = Block(4096, off, seq, seed);
  EXPECT_EQ(std::memcmp(b.data(), "faioVRFY", 8), 0);
  EXPECT_EQ(LoadLe(b, 8, 2), 1u);      // version
  EXPECT_EQ(LoadLe(b, 10, 2), 48u);    // header size
  EXPECT_EQ(LoadLe(b, 12, 4), 4096u);  // block length
  EXPECT_EQ(LoadLe(b, 16, 8), off);
  EXPECT_EQ(b[16], std::byte{0x08});  // little-endian: low byte first
  EXPECT_EQ(LoadLe(b, 24, 8), seq);
  EXPECT_EQ(LoadLe(b, 32, 8), seed);
  EXPECT_EQ(LoadLe(b, 44, 4), 0u);  // reserved
  // The crc is the CRC32C of the block with the crc field zeroed.
  std::vector<std::byte> z = b;
  std::memset(z.data() + 40, 0, 4);
  EXPECT_EQ(LoadLe(b, 40, 4), Crc32c(z));
  EXPECT_EQ(LoadLe(b, 40, 4), BlockCrc(b));
}

TEST(BlockFormat, EncodeDecodeRoundTrip) {
  std::vector<std::byte> b = Block(512, 1536, 7, 42);
  BlockHeader h;
  ASSERT_TRUE(DecodeHeader(b, &h));
  EXPECT_EQ(h.version, kFormatVersion);
  EXPECT_EQ(h.header_size, kHeaderSize);
  EXPECT_EQ(h.block_len, 512u);
  EXPECT_EQ(h.offset, 1536u);
  EXPECT_EQ(h.sequence, 7u);
  EXPECT_EQ(h.seed, 42u);
  EXPECT_EQ(h.crc, BlockCrc(b));
  EXPECT_EQ(h.reserved, 0u);
  std::vector<std::byte> short_block(kHeaderSize - 1);
  EXPECT_FALSE(DecodeHeader(short_block, &h));
  b[0] = std::byte{'F'};
  EXPECT_FALSE(DecodeHeader(b, &h));
}

TEST(BlockFormat, PayloadIsReproducibleAndDependsOnEveryField) {
  EXPECT_EQ(Block(4096, 8192, 3, 9), Block(4096, 8192, 3, 9));
  std::vector<std::byte> a = Block(4096, 8192, 3, 9);
  for (const auto& other :
       {Block(4096, 4096, 3, 9), Block(4096, 8192, 4, 9), Block(4096, 8192, 3, 10)}) {
    EXPECT_NE(std::memcmp(a.data() + kHeaderSize, other.data() + kHeaderSize, 4096 - kHeaderSize),
              0);
  }
  // The payload is the same stream whatever the block length (a prefix).
  std::vector<std::byte> p1(100), p2(37);
  FillPayload(p1, 1, 2, 3);
  FillPayload(p2, 1, 2, 3);
  EXPECT_EQ(std::memcmp(p1.data(), p2.data(), p2.size()), 0);
}

Expected Want(uint64_t off, uint64_t seq, uint64_t seed, uint32_t len) {
  return Expected{off, seq, seed, len};
}

TEST(Classify, GoodBlocksOfOddLengths) {
  // Lengths that are not multiples of 8, and longer than the checker's 4 KiB
  // pieces, check the payload comparison against FillPayload.
  for (uint32_t len : {48u, 49u, 4096u, 4101u, 10007u, 65536u}) {
    std::vector<std::byte> b = Block(len, 3 * uint64_t{len}, 5, 77);
    Verdict v = ClassifyBlock(b, len, Want(3 * uint64_t{len}, 5, 77, len));
    EXPECT_EQ(v.kind, BlockKind::kGood) << len << ": " << v.detail;
  }
}

TEST(Classify, AllZerosIsLost) {
  std::vector<std::byte> b(4096);
  Verdict v = ClassifyBlock(b, 4096, Want(0, 1, 1, 4096));
  EXPECT_EQ(v.kind, BlockKind::kLost);
  EXPECT_EQ(v.detail, "all zeros (never written, or a hole)");
  EXPECT_EQ(ClassifyBlock(b, 0, Want(0, 1, 1, 4096)).detail, "past the end of the file");
}

TEST(Classify, AFlippedByteAnywhereIsCorrupted) {
  for (size_t at : {size_t{3}, size_t{17}, size_t{41}, size_t{48}, size_t{4095}}) {
    std::vector<std::byte> b = Block(4096, 4096, 2, 1);
    b[at] ^= std::byte{0x01};
    Verdict v = ClassifyBlock(b, 4096, Want(4096, 2, 1, 4096));
    EXPECT_EQ(v.kind, BlockKind::kCorrupted) << "byte " << at << ": " << v.detail;
  }
  std::vector<std::byte> b = Block(4096, 4096, 2, 1);
  b[100] ^= std::byte{0x80};
  Verdict v = ClassifyBlock(b, 4096, Want(4096, 2, 1, 4096));
  EXPECT_NE(v.detail.find("crc32c mismatch"), std::string::npos) << v.detail;
}

TEST(Classify, NonZeroGarbageIsCorrupted) {
  std::vector<std::byte> b(4096, std::byte{0x5A});
  Verdict v = ClassifyBlock(b, 4096, Want(0, 1, 1, 4096));
  EXPECT_EQ(v.kind, BlockKind::kCorrupted);
  EXPECT_FALSE(v.header_valid);
  EXPECT_NE(v.detail.find("bad magic"), std::string::npos);
}

TEST(Classify, TornBlockIsCorrupted) {
  // The first half written, the rest zeros: a torn write.
  std::vector<std::byte> b = Block(4096, 0, 1, 1);
  std::memset(b.data() + 2048, 0, 2048);
  EXPECT_EQ(ClassifyBlock(b, 4096, Want(0, 1, 1, 4096)).kind, BlockKind::kCorrupted);
  // The file ends inside the block.
  Verdict v = ClassifyBlock(b, 2048, Want(0, 1, 1, 4096));
  EXPECT_EQ(v.kind, BlockKind::kCorrupted);
  EXPECT_NE(v.detail.find("the file ends 2048 bytes into the block"), std::string::npos);
}

TEST(Classify, ValidBlockForAnotherOffsetIsMisdirected) {
  std::vector<std::byte> b = Block(4096, 81920, 3, 1);
  Verdict v = ClassifyBlock(b, 4096, Want(40960, 3, 1, 4096));
  EXPECT_EQ(v.kind, BlockKind::kMisdirected);
  EXPECT_EQ(v.detail, "block for offset 81920 found at 40960 (sequence 3)");
}

TEST(Classify, OlderSequenceIsStaleNewerIsMismatch) {
  std::vector<std::byte> b = Block(4096, 4096, 2, 1);
  Verdict v = ClassifyBlock(b, 4096, Want(4096, 3, 1, 4096));
  EXPECT_EQ(v.kind, BlockKind::kStale);
  EXPECT_EQ(v.detail, "sequence 2, expected 3: an older write");
  EXPECT_EQ(ClassifyBlock(b, 4096, Want(4096, 1, 1, 4096)).kind, BlockKind::kMismatch);
}

TEST(Classify, OtherSeedOrBlockSizeIsMismatch) {
  std::vector<std::byte> b = Block(4096, 0, 1, 5);
  Verdict v = ClassifyBlock(b, 4096, Want(0, 1, 9, 4096));
  EXPECT_EQ(v.kind, BlockKind::kMismatch);
  EXPECT_EQ(v.detail, "a valid block written with --seed 5, not 9");
  // A file of 2 KiB blocks read as 4 KiB ones.
  std::vector<std::byte> two(4096);
  EncodeBlock(std::span<std::byte>(two).first(2048), 0, 1, 5);
  EncodeBlock(std::span<std::byte>(two).subspan(2048), 2048, 1, 5);
  v = ClassifyBlock(two, 4096, Want(0, 1, 5, 4096));
  EXPECT_EQ(v.kind, BlockKind::kMismatch);
  EXPECT_NE(v.detail.find("--bs 2048, not 4096"), std::string::npos) << v.detail;
  // A file of 8 KiB blocks read as 4 KiB ones: cannot be proven, named anyway.
  std::vector<std::byte> big = Block(8192, 0, 1, 5);
  v = ClassifyBlock(std::span<const std::byte>(big).first(4096), 4096, Want(0, 1, 5, 4096));
  EXPECT_EQ(v.kind, BlockKind::kCorrupted);
  EXPECT_NE(v.detail.find("--bs 8192?"), std::string::npos) << v.detail;
}

TEST(Classify, KindNames) {
  EXPECT_STREQ(KindName(BlockKind::kLost), "lost");
  EXPECT_STREQ(KindName(BlockKind::kMisdirected), "misdirected");
  EXPECT_STREQ(KindName(BlockKind::kStale), "stale");
  EXPECT_STREQ(KindName(BlockKind::kCorrupted), "corrupted");
  EXPECT_STREQ(KindName(BlockKind::kMismatch), "mismatch");
  EXPECT_STREQ(KindName(BlockKind::kUnreadable), "unreadable");
}

}  // namespace
}  // namespace faio::tool
