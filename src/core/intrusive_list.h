// intrusive_list.h - a FIFO of objects that carry their own links.
//
// IntrusiveList<T, &T::next, &T::prev> keeps the first and last element and
// links the elements through two pointer members of T, so pushing, popping
// and unlinking an element anywhere in the list allocate nothing and cost a
// few stores. Not thread-safe: the owner's lock guards it. An element is in at
// most one list through the same pair of members at a time.
//
// Users: the threads pool (each client's queue of requests, and the ring of
// clients with queued work) and the IOCP backend's flush queue.
#ifndef FAIO_SRC_CORE_INTRUSIVE_LIST_H_
#define FAIO_SRC_CORE_INTRUSIVE_LIST_H_

namespace faio::detail {

template <typename T, T* T::*kNext, T* T::*kPrev>
class IntrusiveList {
 public:
  bool empty() const { return head_ == nullptr; }
  T* front() const { return head_; }

  void PushBack(T* x) {
    x->*kNext = nullptr;
    x->*kPrev = tail_;
    if (tail_ != nullptr) {
      tail_->*kNext = x;
    } else {
      head_ = x;
    }
    tail_ = x;
  }

  // Remove unlinks x, which must be in this list.
  void Remove(T* x) {
    if (x->*kPrev != nullptr) {
      x->*kPrev->*kNext = x->*kNext;
    } else {
      head_ = x->*kNext;
    }
    if (x->*kNext != nullptr) {
      x->*kNext->*kPrev = x->*kPrev;
    } else {
      tail_ = x->*kPrev;
    }
    x->*kNext = x->*kPrev = nullptr;
  }

  // PopFront unlinks and returns the first element; nullptr when empty.
  T* PopFront() {
    T* x = head_;
    if (x != nullptr) Remove(x);
    return x;
  }

  // Clear forgets every element (their links are left as they are).
  void Clear() { head_ = tail_ = nullptr; }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_INTRUSIVE_LIST_H_
