// crc32c.h - CRC-32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected)
// without a library: the SSE4.2 crc32 instruction where the CPU has it (found
// at run time), else a slicing-by-8 table. Hosts without ISA-L (the Windows
// build) compute `faio verify`'s checksums with it; tests/tool prove it equal
// to ISA-L's crc32_iscsi.
//
// The functions work on the raw state, as crc32_iscsi does: no inversion
// before or after (block_format.h's Crc32c adds them). Crc32cRaw(s, a + b) ==
// Crc32cRaw(Crc32cRaw(s, a), b).
//
// Thread-safety: all functions are pure and may be called from any thread.
#ifndef FAIO_TOOLS_FAIO_VERIFY_CRC32C_H_
#define FAIO_TOOLS_FAIO_VERIFY_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace faio::tool {

// Crc32cRaw continues `state` over data[0..len) with the fastest way this CPU
// has.
uint32_t Crc32cRaw(uint32_t state, const std::byte* data, size_t len);

// Crc32cTable is the portable way: slicing-by-8 over eight 256-entry tables.
uint32_t Crc32cTable(uint32_t state, const std::byte* data, size_t len);

// Crc32cHaveSse42 says whether this CPU (and build) has the crc32 instruction;
// Crc32cSse42 may only be called when it does.
bool Crc32cHaveSse42();
uint32_t Crc32cSse42(uint32_t state, const std::byte* data, size_t len);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_VERIFY_CRC32C_H_
