// block_format.cc - see block_format.h; the byte layout is documented there and
// in docs/tool-verify.md.
#include "verify/block_format.h"

#include <fmt/format.h>
#ifdef FAIO_TOOL_HAVE_ISAL
#include <isa-l/crc.h>
#endif

#include <algorithm>
#include <cstring>

#include "verify/crc32c.h"

namespace faio::tool {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// Mix64 is splitmix64's output function: a bijective scramble of a 64-bit word.
uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void Put16(std::byte* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
void Put32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
void Put64(std::byte* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
uint64_t Get(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | std::to_integer<uint64_t>(p[i]);
  return v;
}

// CrcRaw runs CRC32C over data of any length: ISA-L's crc32_iscsi where the
// build has it, else crc32c.h's (equal, and tested to be). crc32_iscsi takes an
// int length, so long spans go in pieces; neither pre- nor post-inverts (the
// caller does, see Crc32c).
uint32_t CrcRaw(const std::byte* data, size_t len, uint32_t state) {
#ifndef FAIO_TOOL_HAVE_ISAL
  return Crc32cRaw(state, data, len);
#else
  constexpr size_t kPiece = size_t{1} << 30;
  while (len > 0) {
    size_t n = std::min(len, kPiece);
    state = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data)),
                        static_cast<int>(n), state);
    data += n;
    len -= n;
  }
  return state;
#endif
}

bool AllZero(std::span<const std::byte> data) {
  return std::all_of(data.begin(), data.end(), [](std::byte b) { return b == std::byte{0}; });
}

// PayloadMismatch returns the index (from the block's start) of the first
// payload byte that differs from the pattern, or 0 when all match.
size_t PayloadMismatch(std::span<const std::byte> block, const BlockHeader& h) {
  std::byte expect[4096];
  size_t pos = kHeaderSize;
  // The pattern is generated in pieces; each piece continues the same stream, so
  // FillPayload over the whole payload at once must give the same bytes. That is
  // why the stream state is carried explicitly here, not regenerated per piece.
  uint64_t state = Mix64(h.seed ^ Mix64(h.offset ^ Mix64(h.sequence)));
  while (pos < block.size()) {
    size_t n = std::min(sizeof expect, block.size() - pos);
    for (size_t i = 0; i < n; i += 8) {
      state += kGolden;
      uint64_t word = Mix64(state);
      for (size_t b = 0; b < 8 && i + b < n; ++b) {
        expect[i + b] = static_cast<std::byte>(word >> (8 * b));
      }
    }
    if (std::memcmp(expect, block.data() + pos, n) != 0) {
      for (size_t i = 0; i < n; ++i) {
        if (expect[i] != block[pos + i]) return pos + i;
      }
    }
    pos += n;
  }
  return 0;
}

}  // namespace

uint32_t Crc32c(std::span<const std::byte> data, uint32_t crc) {
  return ~CrcRaw(data.data(), data.size(), ~crc);
}

uint32_t BlockCrc(std::span<const std::byte> block) {
  static constexpr std::byte kZero[4] = {};
  uint32_t state = CrcRaw(block.data(), kCrcOffset, ~0U);
  state = CrcRaw(kZero, sizeof kZero, state);
  state = CrcRaw(block.data() + kCrcOffset + 4, block.size() - kCrcOffset - 4, state);
  return ~state;
}

void FillPayload(std::span<std::byte> out, uint64_t seed, uint64_t offset, uint64_t sequence) {
  uint64_t state = Mix64(seed ^ Mix64(offset ^ Mix64(sequence)));
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    state += kGolden;
    Put64(out.data() + i, Mix64(state));
  }
  if (i < out.size()) {
    state += kGolden;
    uint64_t word = Mix64(state);
    for (size_t b = 0; i + b < out.size(); ++b)
      out[i + b] = static_cast<std::byte>(word >> (8 * b));
  }
}

void EncodeBlock(std::span<std::byte> block, uint64_t offset, uint64_t sequence, uint64_t seed) {
  std::byte* p = block.data();
  std::memcpy(p, kMagic, sizeof kMagic);
  Put16(p + 8, kFormatVersion);
  Put16(p + 10, static_cast<uint16_t>(kHeaderSize));
  Put32(p + 12, static_cast<uint32_t>(block.size()));
  Put64(p + 16, offset);
  Put64(p + 24, sequence);
  Put64(p + 32, seed);
  Put32(p + 40, 0);
  Put32(p + 44, 0);
  FillPayload(block.subspan(kHeaderSize), seed, offset, sequence);
  Put32(p + kCrcOffset, BlockCrc(block));
}

bool DecodeHeader(std::span<const std::byte> block, BlockHeader* out) {
  if (block.size() < kHeaderSize || std::memcmp(block.data(), kMagic, sizeof kMagic) != 0) {
    return false;
  }
  const std::byte* p = block.data();
  out->version = static_cast<uint16_t>(Get(p + 8, 2));
  out->header_size = static_cast<uint16_t>(Get(p + 10, 2));
  out->block_len = static_cast<uint32_t>(Get(p + 12, 4));
  out->offset = Get(p + 16, 8);
  out->sequence = Get(p + 24, 8);
  out->seed = Get(p + 32, 8);
  out->crc = static_cast<uint32_t>(Get(p + 40, 4));
  out->reserved = static_cast<uint32_t>(Get(p + 44, 4));
  return true;
}

const char* KindName(BlockKind kind) {
  switch (kind) {
    case BlockKind::kGood:
      return "good";
    case BlockKind::kLost:
      return "lost";
    case BlockKind::kMisdirected:
      return "misdirected";
    case BlockKind::kStale:
      return "stale";
    case BlockKind::kCorrupted:
      return "corrupted";
    case BlockKind::kMismatch:
      return "mismatch";
    case BlockKind::kUnreadable:
      return "unreadable";
  }
  return "?";
}

Verdict ClassifyBlock(std::span<const std::byte> block, size_t valid, const Expected& want) {
  Verdict v;
  if (AllZero(block)) {
    v.kind = BlockKind::kLost;
    if (valid == 0) {
      v.detail = "past the end of the file";
    } else if (valid < block.size()) {
      v.detail = fmt::format("all zeros; the file ends {} bytes into the block", valid);
    } else {
      v.detail = "all zeros (never written, or a hole)";
    }
    return v;
  }
  std::string tail = valid < block.size()
                         ? fmt::format("; the file ends {} bytes into the block", valid)
                         : std::string();
  v.kind = BlockKind::kCorrupted;
  if (!DecodeHeader(block, &v.header)) {
    v.detail = "no faio verify header (bad magic) and not all zeros" + tail;
    return v;
  }
  v.header_valid = true;
  const BlockHeader& h = v.header;
  if (h.version != kFormatVersion || h.header_size != kHeaderSize) {
    v.detail = fmt::format("header version {} / size {}, expected {} / {}", h.version,
                           h.header_size, kFormatVersion, kHeaderSize) +
               tail;
    return v;
  }
  if (h.block_len != want.block_len) {
    if (h.block_len >= kHeaderSize && h.block_len < block.size() &&
        BlockCrc(block.first(h.block_len)) == h.crc) {
      v.kind = BlockKind::kMismatch;
      v.detail = fmt::format("a valid block of {} bytes: the file was written with --bs {}, not {}",
                             h.block_len, h.block_len, want.block_len);
    } else {
      v.detail = fmt::format(
                     "header says block length {}, expected {} (written with --bs {}?); its "
                     "crc32c cannot be checked at this length",
                     h.block_len, want.block_len, h.block_len) +
                 tail;
    }
    return v;
  }
  uint32_t crc = BlockCrc(block);
  if (crc != h.crc) {
    v.detail =
        fmt::format("crc32c mismatch: stored {:#010x}, computed {:#010x}", h.crc, crc) + tail;
    return v;
  }
  if (size_t at = PayloadMismatch(block, h); at != 0) {
    v.detail = fmt::format(
        "crc32c matches but the payload differs from its seeded pattern at "
        "byte {} of the block",
        at);
    return v;
  }
  if (h.seed != want.seed) {
    v.kind = BlockKind::kMismatch;
    v.detail = fmt::format("a valid block written with --seed {}, not {}", h.seed, want.seed);
    return v;
  }
  if (h.offset != want.offset) {
    v.kind = BlockKind::kMisdirected;
    v.detail = fmt::format("block for offset {} found at {} (sequence {})", h.offset, want.offset,
                           h.sequence);
    return v;
  }
  if (h.sequence < want.sequence) {
    v.kind = BlockKind::kStale;
    v.detail = fmt::format("sequence {}, expected {}: an older write", h.sequence, want.sequence);
    return v;
  }
  if (h.sequence > want.sequence) {
    v.kind = BlockKind::kMismatch;
    v.detail = fmt::format("sequence {} is newer than the expected --sequence {}", h.sequence,
                           want.sequence);
    return v;
  }
  v.kind = BlockKind::kGood;
  return v;
}

}  // namespace faio::tool
