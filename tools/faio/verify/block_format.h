// block_format.h - the self-describing blocks `faio verify` writes, and the
// pure functions that make and judge them (no I/O; unit-tested on their own).
//
// A file written by `faio verify` is a sequence of blocks of --bs bytes. Each
// block starts with a 48-byte header (all integers little-endian):
//
//   offset  size  field
//        0     8  magic        the ASCII bytes "faioVRFY"
//        8     2  version      1
//       10     2  header_size  48
//       12     4  block_len    bytes in the block, header included (--bs)
//       16     8  offset       the file offset the block was written for
//       24     8  sequence     the write sequence (generation) that wrote it
//       32     8  seed         the --seed of the run that wrote it
//       40     4  crc32c       CRC32C (Castagnoli) of the whole block, computed
//                              with these four bytes set to zero
//       44     4  reserved     0
//       48     -  payload      block_len - 48 bytes from Payload(seed, offset,
//                              sequence): reproducible from the header alone
//
// The payload is the little-endian output of a splitmix64 generator started at
// PayloadStart(seed, offset, sequence); a final partial word is truncated.
//
// Thread-safety: all functions are pure and may be called from any thread.
#ifndef FAIO_TOOLS_FAIO_VERIFY_BLOCK_FORMAT_H_
#define FAIO_TOOLS_FAIO_VERIFY_BLOCK_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace faio::tool {

inline constexpr size_t kHeaderSize = 48;
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr char kMagic[8] = {'f', 'a', 'i', 'o', 'V', 'R', 'F', 'Y'};
inline constexpr size_t kCrcOffset = 40;

// Crc32c is the CRC-32C (Castagnoli, iSCSI) of data, as in RFC 3720:
// Crc32c("123456789") == 0xE3069283. `crc` continues an earlier value
// (Crc32c(a+b) == Crc32c(b, Crc32c(a))); 0 starts afresh.
uint32_t Crc32c(std::span<const std::byte> data, uint32_t crc = 0);

// BlockHeader is a decoded header.
struct BlockHeader {
  uint16_t version = 0;
  uint16_t header_size = 0;
  uint32_t block_len = 0;
  uint64_t offset = 0;
  uint64_t sequence = 0;
  uint64_t seed = 0;
  uint32_t crc = 0;
  uint32_t reserved = 0;
};

// BlockCrc is the CRC32C of block with its crc field counted as zero (what the
// header's crc32c field must hold). block.size() >= kHeaderSize.
uint32_t BlockCrc(std::span<const std::byte> block);

// FillPayload writes the payload bytes of the block (seed, offset, sequence)
// into out (the bytes after the header).
void FillPayload(std::span<std::byte> out, uint64_t seed, uint64_t offset, uint64_t sequence);

// EncodeBlock writes a complete block (header, payload, crc) into block, whose
// size is the block length (at least kHeaderSize, at most 4 GiB - 1).
void EncodeBlock(std::span<std::byte> block, uint64_t offset, uint64_t sequence, uint64_t seed);

// DecodeHeader reads the header at the start of block. False when block is
// shorter than kHeaderSize or the magic is not "faioVRFY"; the other fields are
// returned as stored, unchecked.
bool DecodeHeader(std::span<const std::byte> block, BlockHeader* out);

// BlockKind is the verdict on one block read back.
enum class BlockKind {
  kGood,
  kLost,         // all zeros: never written, a hole, or past the end of the file
  kMisdirected,  // a valid block, but written for another offset
  kStale,        // a valid block for this offset from an older sequence
  kCorrupted,    // not a valid block: bad magic with data, bad crc, bad payload
  kMismatch,     // a valid block written with another --seed, --bs or a newer
                 // --sequence than expected: the options do not match the file
  kUnreadable,   // the read itself failed (set by the reader, not by Classify)
};
inline constexpr int kBlockKinds = 7;

// KindName is "good", "lost", "misdirected", "stale", "corrupted", "mismatch",
// "unreadable".
const char* KindName(BlockKind kind);

// Expected is what the block at one offset should hold.
struct Expected {
  uint64_t offset = 0;
  uint64_t sequence = 0;
  uint64_t seed = 0;
  uint32_t block_len = 0;
};

// Verdict is ClassifyBlock's answer: the kind, a sentence for the user, and the
// header as found (header_valid: the magic matched).
struct Verdict {
  BlockKind kind = BlockKind::kGood;
  std::string detail;
  bool header_valid = false;
  BlockHeader header;
};

// ClassifyBlock judges one block read back. `block` holds want.block_len bytes,
// of which the first `valid` came from the file (a read that hit the end of the
// file); the rest must be zero. The checks, in order:
//   all zeros                                   -> lost
//   no magic, unknown version or header size    -> corrupted
//   block_len differs: a block that is valid at
//   its own length                              -> mismatch, else corrupted
//   crc32c differs                              -> corrupted
//   payload differs from the seeded pattern     -> corrupted
//   seed differs                                -> mismatch
//   offset differs                              -> misdirected
//   sequence older                              -> stale
//   sequence newer                              -> mismatch
//   otherwise                                   -> good
Verdict ClassifyBlock(std::span<const std::byte> block, size_t valid, const Expected& want);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_VERIFY_BLOCK_FORMAT_H_
