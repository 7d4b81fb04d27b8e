// file_table.cc - see file_table.h.
#include "core/file_table.h"

#include <functional>
#include <new>

namespace faio::detail {

FileTable::~FileTable() {
  for (FileState* fs : buckets_) {
    while (fs != nullptr) {
      FileState* n = fs->hash_next;
      for (Epoch* e = fs->head; e != nullptr;) {
        Epoch* en = e->next;
        delete e;
        e = en;
      }
      delete fs;
      fs = n;
    }
  }
  while (free_epochs_ != nullptr) {
    Epoch* n = free_epochs_->next;
    delete free_epochs_;
    free_epochs_ = n;
  }
}

size_t FileTable::Bucket(faio_file f) const {
  // faio_file is an int or a pointer-sized HANDLE; hash its bytes' value.
  uintptr_t v;
  if constexpr (sizeof(faio_file) == sizeof(int)) {
    v = static_cast<uintptr_t>(static_cast<unsigned>((intptr_t)f));
  } else {
    v = (uintptr_t)f;
  }
  return std::hash<uintptr_t>{}(v) & (buckets_.size() - 1);
}

FileState* FileTable::Find(faio_file f) const {
  if (last_ != nullptr && last_->file == f) return last_;
  if (buckets_.empty()) return nullptr;
  for (FileState* fs = buckets_[Bucket(f)]; fs != nullptr; fs = fs->hash_next) {
    if (fs->file == f) return fs;
  }
  return nullptr;
}

FileState* FileTable::GetSlow(faio_file f) {
  if (FileState* fs = Find(f)) {
    last_ = fs;
    return fs;
  }
  if (count_ + 1 > buckets_.size()) {
    // Grow (power of two) and rehash.
    size_t n = buckets_.empty() ? 16 : buckets_.size() * 2;
    std::vector<FileState*> old;
    old.swap(buckets_);
    buckets_.assign(n, nullptr);
    for (FileState* fs : old) {
      while (fs != nullptr) {
        FileState* next = fs->hash_next;
        size_t b = Bucket(fs->file);
        fs->hash_next = buckets_[b];
        buckets_[b] = fs;
        fs = next;
      }
    }
  }
  auto* fs = new (std::nothrow) FileState();
  if (fs == nullptr) return nullptr;
  fs->file = f;
  fs->tail = fs->head = NewEpoch();
  if (fs->tail == nullptr) {
    delete fs;
    return nullptr;
  }
  size_t b = Bucket(f);
  fs->hash_next = buckets_[b];
  buckets_[b] = fs;
  ++count_;
  last_ = fs;
  return fs;
}

Epoch* FileTable::NewEpoch() {
  Epoch* e = free_epochs_;
  if (e != nullptr) {
    free_epochs_ = e->next;
  } else {
    e = new (std::nothrow) Epoch();
    if (e == nullptr) return nullptr;
  }
  e->inflight.store(0, std::memory_order_relaxed);
  e->sealed.store(false, std::memory_order_relaxed);
  e->flush = nullptr;
  e->next = nullptr;
  return e;
}

// Epochs go back to a free list, never to the system while the context lives: a
// reaper may still read `sealed` of an epoch it just drained (see Release).
void FileTable::FreeEpoch(Epoch* e) {
  e->next = free_epochs_;
  free_epochs_ = e;
}

bool FileTable::AddFlush(FileState* fs, Request* f) {
  Epoch* n = NewEpoch();
  if (n == nullptr) return false;
  Epoch* e = fs->tail;
  e->flush = f;
  e->flush_seq = f->seq32;
  e->next = n;
  fs->tail = n;
  f->fstate = fs;
  f->epoch = n;
  n->inflight.store(1, std::memory_order_relaxed);
  // Publish "sealed" after the counts; pairs with Release's seq_cst decrement so
  // that either the reaper sees the seal or the caller's Drain sees zero.
  e->sealed.store(true, std::memory_order_seq_cst);
  return true;
}

void FileTable::Drain(FileState* fs, std::vector<ReadyFlush>* out) {
  while (fs->head != fs->tail && fs->head->sealed.load(std::memory_order_seq_cst) &&
         fs->head->inflight.load(std::memory_order_seq_cst) == 0) {
    Epoch* e = fs->head;
    out->push_back(ReadyFlush{e->flush, e->flush_seq});
    fs->head = e->next;
    FreeEpoch(e);
  }
}

void FileTable::DrainAll(std::vector<ReadyFlush>* out) {
  for (FileState* fs : buckets_) {
    for (; fs != nullptr; fs = fs->hash_next) {
      if (fs->head != fs->tail) Drain(fs, out);
    }
  }
}

}  // namespace faio::detail
