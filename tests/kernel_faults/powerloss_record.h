// powerloss_record.h - the record format shared by the power-loss writer and
// harness: kRecord bytes at offset seq * kRecord,
//   [0,4)   magic "FPLR"
//   [4,8)   crc32c (ISA-L crc32_iscsi, seed 0xffffffff) of bytes [8, kRecord)
//   [8,16)  seq            [16,24) offset
//   [24,kRecord) payload: a xorshift stream seeded by seq
// (host byte order: the file is written and read on the same machine).
#ifndef FAIO_TESTS_KERNEL_FAULTS_POWERLOSS_RECORD_H_
#define FAIO_TESTS_KERNEL_FAULTS_POWERLOSS_RECORD_H_

#include <isa-l/crc.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace faio_pl {

constexpr size_t kRecord = 512;
constexpr uint32_t kMagic = 0x524c5046;  // "FPLR" little-endian

inline uint32_t Crc(const unsigned char* rec) {
  return crc32_iscsi(const_cast<unsigned char*>(rec) + 8, static_cast<int>(kRecord - 8),
                     0xffffffffu);
}

// Fill writes record seq into rec and returns its crc.
inline uint32_t Fill(unsigned char* rec, uint64_t seq) {
  uint64_t off = seq * kRecord;
  std::memcpy(rec, &kMagic, 4);
  std::memcpy(rec + 8, &seq, 8);
  std::memcpy(rec + 16, &off, 8);
  uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 24; i < kRecord; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(rec + i, &x, 8);
  }
  uint32_t crc = Crc(rec);
  std::memcpy(rec + 4, &crc, 4);
  return crc;
}

// Check returns "" when rec holds record seq with crc `acked_crc`, else what
// is wrong with it.
inline std::string Check(const unsigned char* rec, uint64_t seq, uint32_t acked_crc) {
  uint32_t magic, crc;
  uint64_t s, off;
  std::memcpy(&magic, rec, 4);
  std::memcpy(&crc, rec + 4, 4);
  std::memcpy(&s, rec + 8, 8);
  std::memcpy(&off, rec + 16, 8);
  if (magic != kMagic) {
    bool zero = true;
    for (size_t i = 0; i < kRecord && zero; i++) zero = rec[i] == 0;
    return zero ? "missing (zeros)" : "bad magic";
  }
  if (s != seq || off != seq * kRecord) return "wrong seq/offset";
  if (Crc(rec) != crc) return "crc mismatch (torn or corrupt)";
  if (crc != acked_crc) return "crc differs from the acknowledged one";
  return "";
}

}  // namespace faio_pl

#endif  // FAIO_TESTS_KERNEL_FAULTS_POWERLOSS_RECORD_H_
