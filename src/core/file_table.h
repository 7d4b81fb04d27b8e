// file_table.h - per-file state of a context: the flush barrier and sticky flush
// errors.
//
// The barrier. Each file's transfers are counted in *epochs*. A flush closes the
// file's current epoch (it will be issued once that epoch and every older one
// have no transfer in flight) and is itself counted in the next epoch, so flushes
// of one file are issued in order and each waits only for what was submitted
// before it: transfers submitted after a flush go to the host at once. This
// replaces io_uring's IOSQE_IO_DRAIN, which stalls the whole ring, and gives
// every backend the same per-file barrier.
//
// Locking. Everything here runs under the context's submit lock except
// Release(), which the reaping thread calls for each completion: it only
// decrements an atomic counter and reports whether a drain is due.
#ifndef FAIO_SRC_CORE_FILE_TABLE_H_
#define FAIO_SRC_CORE_FILE_TABLE_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/request.h"
#include "faio/faio.h"

namespace faio::detail {

struct Epoch {
  std::atomic<int64_t> inflight{0};
  std::atomic<bool> sealed{false};  // closed by a flush waiting on it
  Request* flush = nullptr;         // the flush that closed it
  uint32_t flush_seq = 0;           // ... and its submission (seq32)
  Epoch* next = nullptr;
};

// A flush whose barrier has passed, as Drain reports it: still to be issued if
// the request is still that submission (it may have been cancelled meanwhile).
struct ReadyFlush {
  Request* req;
  uint32_t seq32;
};

struct FileState {
  faio_file file{};
  Epoch* head = nullptr;  // oldest epoch still holding a flush back
  Epoch* tail = nullptr;  // current (open) epoch
  // Sticky flush error: 0 or the FAIO_E_* status of the failed flush.
  std::atomic<int> sticky_status{0};
  std::atomic<int> sticky_host_error{0};
  // What the submitter may do itself (platform::ProbeNow bits; 0: not asked
  // yet). Under the submit lock.
  uint8_t now = 0;
  FileState* hash_next = nullptr;
};

class FileTable {
 public:
  FileTable() = default;
  ~FileTable();
  FileTable(const FileTable&) = delete;
  FileTable& operator=(const FileTable&) = delete;

  // Get finds or creates the state of f. nullptr when out of memory.
  FileState* Get(faio_file f) {
    if (last_ != nullptr && last_->file == f) return last_;  // most batches: one file
    return GetSlow(f);
  }
  // Find returns the state of f or nullptr.
  FileState* Find(faio_file f) const;

  // Track assigns a transfer to its file's open epoch; the caller counts it
  // there (Count) before the host can complete it, one atomic add per run of
  // requests of the same epoch.
  static Epoch* Track(FileState* fs, Request* r) {
    r->fstate = fs;
    r->epoch = fs->tail;
    return fs->tail;
  }
  static void Count(Epoch* e, int64_t n) { e->inflight.fetch_add(n, std::memory_order_relaxed); }
  // AddFlush closes the open epoch behind flush f. Returns false when out of
  // memory (nothing changed).
  bool AddFlush(FileState* fs, Request* f);
  // Release uncounts a finished request; true when its epoch drained while a
  // flush waits on it (call Drain under the submit lock).
  static bool Release(Request* r) {
    Epoch* e = r->epoch;
    if (e == nullptr) return false;
    r->epoch = nullptr;
    return ReleaseN(e, 1);
  }
  // ReleaseN uncounts n finished requests of epoch e at once; same answer.
  static bool ReleaseN(Epoch* e, int64_t n) {
    if (e->inflight.fetch_sub(n, std::memory_order_seq_cst) != n) return false;
    return e->sealed.load(std::memory_order_seq_cst);
  }
  // Drain appends every flush of fs whose barrier has passed to out.
  void Drain(FileState* fs, std::vector<ReadyFlush>* out);
  // DrainAll does Drain for every file.
  void DrainAll(std::vector<ReadyFlush>* out);

 private:
  FileState* GetSlow(faio_file f);
  Epoch* NewEpoch();
  void FreeEpoch(Epoch* e);
  size_t Bucket(faio_file f) const;

  std::vector<FileState*> buckets_;
  size_t count_ = 0;
  FileState* last_ = nullptr;  // one-entry cache: most workloads use one file
  Epoch* free_epochs_ = nullptr;
};

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_FILE_TABLE_H_
