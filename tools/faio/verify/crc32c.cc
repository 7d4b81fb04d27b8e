// crc32c.cc - see crc32c.h.
#include "verify/crc32c.h"

#include <array>
#include <cstring>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FAIO_TOOL_CRC32C_SSE42 1
#include <nmmintrin.h>
#endif

namespace faio::tool {
namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // 0x1EDC6F41 bit-reversed

using Tables = std::array<std::array<uint32_t, 256>, 8>;

// MakeTables builds the slicing-by-8 tables at compile time: t[0] is the
// byte-at-a-time table, t[k][b] the CRC of byte b followed by k zero bytes.
constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

// Load64 reads 8 bytes as a little-endian word on any host.
inline uint64_t Load64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | std::to_integer<uint64_t>(p[i]);
  return v;
}

}  // namespace

uint32_t Crc32cTable(uint32_t state, const std::byte* data, size_t len) {
  const Tables& t = kTables;
  uint32_t crc = state;
  for (; len >= 8; data += 8, len -= 8) {
    uint64_t v = Load64(data) ^ crc;
    crc = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF] ^
          t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
  }
  for (; len > 0; ++data, --len) {
    crc = t[0][(crc ^ std::to_integer<uint32_t>(*data)) & 0xFF] ^ (crc >> 8);
  }
  return crc;
}

#if FAIO_TOOL_CRC32C_SSE42

bool Crc32cHaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2") != 0;
  return have;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(uint32_t state, const std::byte* data,
                                                       size_t len) {
  uint32_t crc = state;
  // Bytes up to an 8-byte boundary, then 8 at a time, then the tail.
  for (; len > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0; ++data, --len) {
    crc = _mm_crc32_u8(crc, std::to_integer<uint8_t>(*data));
  }
#if defined(__x86_64__)
  uint64_t wide = crc;
  for (; len >= 8; data += 8, len -= 8) {
    uint64_t v;
    std::memcpy(&v, data, 8);
    wide = _mm_crc32_u64(wide, v);
  }
  crc = static_cast<uint32_t>(wide);
#else
  for (; len >= 4; data += 4, len -= 4) {
    uint32_t v;
    std::memcpy(&v, data, 4);
    crc = _mm_crc32_u32(crc, v);
  }
#endif
  for (; len > 0; ++data, --len) crc = _mm_crc32_u8(crc, std::to_integer<uint8_t>(*data));
  return crc;
}

#else

bool Crc32cHaveSse42() { return false; }

uint32_t Crc32cSse42(uint32_t state, const std::byte* data, size_t len) {
  return Crc32cTable(state, data, len);
}

#endif

uint32_t Crc32cRaw(uint32_t state, const std::byte* data, size_t len) {
  return Crc32cHaveSse42() ? Crc32cSse42(state, data, len) : Crc32cTable(state, data, len);
}

}  // namespace faio::tool
