// lockfree_stack.h - the intrusive lock-free stack the backends share: many
// threads push (a worker's completion, a slot given back), one thread takes
// everything at once. No pop of single nodes, so there is no ABA problem.
#ifndef FAIO_SRC_CORE_LOCKFREE_STACK_H_
#define FAIO_SRC_CORE_LOCKFREE_STACK_H_

#include <atomic>

namespace faio::detail {

// PushFront links node in front of head through its member `link` and returns
// the head it replaced (nullptr: the stack was empty, which callers use to
// signal "became non-empty" once). `order` is the compare-and-swap's order on
// success: release publishes the node to the taker; seq_cst where the push is
// one half of a Dekker-style handshake with a sleeper (push, then look at its
// flag).
template <typename T>
T* PushFront(std::atomic<T*>& head, T* node, T* T::*link,
             std::memory_order order = std::memory_order_release) {
  T* old = head.load(std::memory_order_relaxed);
  do {
    node->*link = old;
  } while (!head.compare_exchange_weak(old, node, order, std::memory_order_relaxed));
  return old;
}

// TakeAll empties the stack and returns its nodes, newest first.
template <typename T>
T* TakeAll(std::atomic<T*>& head) {
  return head.exchange(nullptr, std::memory_order_acquire);
}

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_LOCKFREE_STACK_H_
