// handle_table.h - process-wide tables that turn opaque C handles into objects.
//
// A handle is a 64-bit value: an 8-bit tag naming the table, a 24-bit generation
// and a 32-bit slot index. Slots live in a StableArray (core/stable_array.h)
// whose chunks are never returned to the system while the process runs, so resolving a stale or
// forged handle never touches freed memory: it reads a slot whose generation does not match and
// answers "no such object". Generations are odd while a slot is live and even
// while it is free, so a handle of a destroyed object never matches again until
// the slot's generation wraps (2^23 reuses of one slot).
#ifndef FAIO_SRC_CORE_HANDLE_TABLE_H_
#define FAIO_SRC_CORE_HANDLE_TABLE_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <type_traits>

#include "core/stable_array.h"
#include "platform/lock.h"

namespace faio::detail {

static_assert(sizeof(void*) == 8, "faio handles need 64-bit pointers");

// Trivially destructible and constant-initialized, so a table can be a global
// that needs no guard on lookup and is never torn down while the process may
// still resolve handles (e.g. from another thread during exit).
template <typename T, uint8_t kTag>
class HandleTable {
 public:
  constexpr HandleTable() = default;

  static constexpr uint32_t kChunkBits = 10;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr uint32_t kMaxChunks = 1u << 14;  // 16 Mi slots

  // `key` is the high half of the slot's current handle: the table's tag and
  // the generation (odd: live, even: free), so a lookup checks both with one
  // comparison.
  struct SlotFields {
    std::atomic<uint32_t> key{0};
    uint32_t next_free = 0;  // free-list link (index + 1), under mu_
    T obj;
  };
  // A slot's size is a power of two (its alignment too): a lookup finds it at
  // its chunk plus one shift of the index, and no two requests share a cache
  // line.
  struct alignas(std::bit_ceil(sizeof(SlotFields))) Slot : SlotFields {};
  static_assert(sizeof(Slot) == std::bit_ceil(sizeof(SlotFields)));

  // Alloc returns a live slot (its object default-constructed the first time and
  // reused as it was left afterwards) and its handle, or nullptr when out of
  // memory or slots.
  Slot* Alloc(uint64_t* handle) {
    std::lock_guard<platform::Lock> lock(mu_);
    uint32_t index;
    if (free_head_ != 0) {
      index = free_head_ - 1;
      free_head_ = SlotAt(index)->next_free;
    } else {
      index = next_;
      if (slots_.Grow(index) == nullptr) return nullptr;
      ++next_;
    }
    Slot* s = SlotAt(index);
    uint32_t g = (s->key.load(std::memory_order_relaxed) + 1) & kGenMask;  // even -> odd: live
    s->key.store(Key(g), std::memory_order_release);
    *handle = (uint64_t{Key(g)} << 32) | index;
    return s;
  }

  // Free makes the slot's handles invalid and the slot reusable. The object is
  // left as it is (the caller resets what it must).
  void Free(uint64_t handle) {
    uint32_t index = static_cast<uint32_t>(handle);
    std::lock_guard<platform::Lock> lock(mu_);
    Slot* s = SlotAt(index);
    uint32_t g = (s->key.load(std::memory_order_relaxed) + 1) & kGenMask;  // odd -> even: free
    s->key.store(Key(g), std::memory_order_release);
    s->next_free = free_head_;
    free_head_ = index + 1;
  }

  // Lookup resolves a handle, or returns nullptr for anything that is not a live
  // object of this table. Lock-free; safe against any handle value.
  // A handle names a live slot when its high half is odd (a live generation)
  // and equals the slot's key, which carries the tag: a handle of another
  // table, of a freed object or made up fails the one comparison.
  T* Lookup(uint64_t handle) const {
    uint32_t key = static_cast<uint32_t>(handle >> 32);
    uint32_t index = static_cast<uint32_t>(handle);
    if ((key & 1u) == 0) return nullptr;
    Slot* s = slots_.Find(index);
    if (s == nullptr || s->key.load(std::memory_order_acquire) != key) return nullptr;
    return &s->obj;
  }

  // StillNames: whether `handle`, which Lookup resolved to obj, still names it
  // (its slot was not freed, and perhaps reused, since): one load, where a
  // second Lookup would redo every check.
  static bool StillNames(const T* obj, uint64_t handle) {
    static_assert(std::is_standard_layout_v<SlotFields>);
    const auto* s = reinterpret_cast<const SlotFields*>(reinterpret_cast<const char*>(obj) -
                                                        offsetof(SlotFields, obj));
    return s->key.load(std::memory_order_acquire) == static_cast<uint32_t>(handle >> 32);
  }

  // At resolves an index without checking (for indices the library issued itself).
  T* At(uint32_t index) const { return &SlotAt(index)->obj; }

  static uint32_t IndexOf(uint64_t handle) { return static_cast<uint32_t>(handle); }

 private:
  static constexpr uint32_t kGenMask = 0xFFFFFFu;
  static constexpr uint32_t Key(uint32_t gen) { return (uint32_t{kTag} << 24) | gen; }
  Slot* SlotAt(uint32_t index) const { return slots_.At(index); }

  platform::Lock mu_;       // constant-initialized on every host
  uint32_t free_head_ = 0;  // index + 1 of the first free slot; 0: none
  uint32_t next_ = 0;
  StableArray<Slot, kChunkBits, kMaxChunks> slots_;
  static_assert(std::is_trivially_destructible_v<StableArray<Slot, kChunkBits, kMaxChunks>>,
                "a global table is never torn down while handles may be resolved");
};

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_HANDLE_TABLE_H_
