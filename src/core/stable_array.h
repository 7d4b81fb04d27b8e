// stable_array.h - an array that grows in chunks and never moves what it holds.
//
// Elements live in chunks of 2^kChunkBits allocated as the array grows; a chunk
// is never moved or freed while the array lives, so an element's address stays
// valid and a reader needs no lock: one acquire load of the chunk pointer and
// an index. Growth (Grow) is the owner's, under its own lock.
//
// Users: the handle tables (core/handle_table.h: process-wide globals, so the
// array is constant-initialized and trivially destructible, and never freed)
// and the IOCP backend's IoOps (freed with the backend: FreeAll).
#ifndef FAIO_SRC_CORE_STABLE_ARRAY_H_
#define FAIO_SRC_CORE_STABLE_ARRAY_H_

#include <atomic>
#include <cstdint>
#include <new>

namespace faio::detail {

template <typename T, uint32_t kChunkBits, uint32_t kMaxChunks>
class StableArray {
 public:
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr uint64_t kCapacity = uint64_t{kChunkSize} * kMaxChunks;

  constexpr StableArray() = default;
  StableArray(const StableArray&) = delete;
  StableArray& operator=(const StableArray&) = delete;

  // Grow makes element `index` exist (its chunk allocated, elements
  // default-constructed) and returns it; nullptr when index is past the
  // capacity or memory is short. The owner's lock serializes it.
  T* Grow(uint32_t index) {
    const uint32_t chunk = index >> kChunkBits;
    if (chunk >= kMaxChunks) return nullptr;
    if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr) {
      T* c = new (std::nothrow) T[kChunkSize];
      if (c == nullptr) return nullptr;
      chunks_[chunk].store(c, std::memory_order_release);
    }
    return At(index);
  }

  // At: an element Grow made (not checked).
  T* At(uint32_t index) const {
    return &chunks_[index >> kChunkBits].load(std::memory_order_acquire)[index & (kChunkSize - 1)];
  }

  // Find: element `index`, or nullptr when its chunk does not exist. Safe for
  // any index.
  T* Find(uint32_t index) const {
    if ((index >> kChunkBits) >= kMaxChunks) return nullptr;
    T* c = chunks_[index >> kChunkBits].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : &c[index & (kChunkSize - 1)];
  }

  // FreeAll frees every chunk; nothing may use the array after it.
  void FreeAll() {
    for (auto& c : chunks_) delete[] c.exchange(nullptr, std::memory_order_relaxed);
  }

 private:
  std::atomic<T*> chunks_[kMaxChunks] = {};
};

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_STABLE_ARRAY_H_
