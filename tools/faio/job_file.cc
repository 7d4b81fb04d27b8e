// job_file.cc - see job_file.h: the host-neutral part (moving, laying out).
#include "job_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "common.h"
#include "options.h"

namespace faio::tool {
namespace {

constexpr size_t kLayoutChunk = size_t{1} << 20;  // bytes per layout write
constexpr uint32_t kLayoutDepth = 8;              // layout writes in flight at most
constexpr size_t kStampBlock = 4096;              // each 4 KiB block carries its offset

// Fill writes the layout pattern for file offset `off` into buf[0..len): each
// 4 KiB block starts with its own offset (so a later verify can tell blocks
// apart), the rest is a non-zero byte pattern.
void Fill(std::byte* buf, size_t len, uint64_t off) {
  for (size_t i = 0; i < len; ++i) {
    buf[i] = static_cast<std::byte>(0xA5 ^ ((off + i) >> 12 & 0x3F) ^ (i & 0x0F));
  }
  for (size_t b = 0; b + sizeof(uint64_t) <= len; b += kStampBlock) {
    uint64_t stamp = off + b;
    std::memcpy(buf + b, &stamp, sizeof stamp);
    // A block at offset 0 would start with zero bytes: keep the data non-zero.
    if (stamp == 0) buf[b] = std::byte{0xFF};
  }
}

}  // namespace

JobFile::JobFile(JobFile&& o) noexcept
    : file_(o.file_),
      first_(o.first_),
      open_(std::exchange(o.open_, false)),
      first_open_(std::exchange(o.first_open_, false)),
      direct_(o.direct_),
      path_(std::move(o.path_)),
      size_(o.size_),
      temporary_(o.temporary_),
      created_(o.created_) {}

JobFile& JobFile::operator=(JobFile&& o) noexcept {
  if (this != &o) {
    Close();
    file_ = o.file_;
    first_ = o.first_;
    open_ = std::exchange(o.open_, false);
    first_open_ = std::exchange(o.first_open_, false);
    direct_ = o.direct_;
    path_ = std::move(o.path_);
    size_ = o.size_;
    temporary_ = o.temporary_;
    created_ = o.created_;
  }
  return *this;
}

JobFile::~JobFile() { Close(); }

JobFile JobFile::Created(faio::Context& ctx, faio_file file, const std::string& path, uint64_t size,
                         uint32_t depth, bool temporary) {
  JobFile f;
  f.file_ = file;
  f.open_ = true;
  f.path_ = path;
  f.size_ = size;
  f.temporary_ = temporary;
  f.created_ = true;
  // On stderr: stdout may be a JSON document.
  if (!temporary) fmt::print(stderr, "faio bench: laying out {} ({})\n", path, FormatBytes(size));
  try {
    f.LayOut(ctx, depth);
  } catch (...) {
    f.Close();                     // a temporary file goes with its descriptor
    if (!temporary) Remove(path);  // do not leave a half-written file behind
    throw;
  }
  return f;
}

void JobFile::LayOut(faio::Context& ctx, uint32_t depth) {
  // Reserve the blocks first so that a full disk is reported before any writing.
  Reserve();

  depth = std::clamp<uint32_t>(depth, 1, kLayoutDepth);
  AlignedBuffer mem = AllocAligned(4096, depth * kLayoutChunk);
  if (!mem) throw ToolError(kExitFailure, "out of memory for the layout buffers");

  std::vector<faio::Request> reqs;
  std::vector<uint32_t> free_slots;
  for (uint32_t i = 0; i < depth; ++i) {
    auto r = faio::Request::Create();
    if (!r.ok()) {
      throw ToolError(kExitFailure, "faio_req_create: " + StatusText(static_cast<int>(r.status())));
    }
    reqs.push_back(std::move(r).value());
    free_slots.push_back(depth - 1 - i);
  }
  std::vector<faio_req*> batch;
  std::vector<faio_req*> out(depth);
  std::vector<uint64_t> slot_offset(depth);
  uint64_t next = 0;
  size_t inflight = 0;
  std::string error;  // the first error; once set, nothing new is submitted

  while (true) {
    batch.clear();
    while (error.empty() && !Interrupted() && next < size_ && !free_slots.empty()) {
      uint32_t slot = free_slots.back();
      size_t len = static_cast<size_t>(std::min<uint64_t>(kLayoutChunk, size_ - next));
      std::byte* buf = mem.get() + slot * kLayoutChunk;
      Fill(buf, len, next);
      faio::Status s = reqs[slot].PrepareWrite(
          file_, static_cast<int64_t>(next), std::span<const std::byte>(buf, len),
          reinterpret_cast<void*>(static_cast<uintptr_t>(slot)));
      if (s != faio::Status::kOk) {
        error = "faio_req_prepare_write: " + StatusText(static_cast<int>(s));
        break;
      }
      slot_offset[slot] = next;
      free_slots.pop_back();
      batch.push_back(reqs[slot].native());
      next += len;
    }
    size_t done = 0;
    while (done < batch.size()) {
      int st = 0;
      size_t took = SubmitBatch(ctx.native(), batch.data() + done, batch.size() - done, &st);
      inflight += took;
      done += took;
      if (st == FAIO_OK) break;
      if (st == FAIO_E_INSUFFICIENT_RESOURCES && inflight > 0) break;  // retry after a wait
      error = "faio_ctx_submit: " + StatusText(st);
      break;
    }
    // Whatever was not submitted goes back to the free list, to be redone.
    for (size_t i = done; i < batch.size(); ++i) {
      uint32_t slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(batch[i])));
      free_slots.push_back(slot);
      next = std::min(next, slot_offset[slot]);
    }
    if (inflight == 0) break;

    auto w = ctx.Wait(1, std::span<faio_req*>(out), std::chrono::milliseconds(250));
    if (!w.ok() && w.status() != faio::Status::kTimeout &&
        w.status() != faio::Status::kInterrupted && error.empty()) {
      error = "faio_ctx_wait: " + StatusText(static_cast<int>(w.status()));
    }
    for (size_t i = 0; i < w.value().count; ++i) {
      --inflight;
      uint32_t slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(out[i])));
      size_t n = 0;
      int st = faio_req_result(out[i], &n);
      uint64_t want = std::min<uint64_t>(kLayoutChunk, size_ - slot_offset[slot]);
      if (error.empty() && st != FAIO_OK) {
        error = fmt::format("write at offset {} failed: {}", slot_offset[slot],
                            StatusText(st, faio_req_host_error(out[i])));
      } else if (error.empty() && n != want) {
        error = fmt::format("short write at offset {}: {} of {} bytes", slot_offset[slot], n, want);
      }
      free_slots.push_back(slot);
    }
    if (!w.ok() && w.status() != faio::Status::kTimeout &&
        w.status() != faio::Status::kInterrupted && w.value().count == 0) {
      break;  // the context is broken; nothing more will come back
    }
  }
  if (!error.empty()) {
    throw ToolError(kExitFailure, fmt::format("laying out {}: {}", path_, error));
  }
  if (Interrupted()) throw ToolError(kExitInterrupted, "interrupted while laying out the file");

  // Make the data durable through faio too, then drop it from the page cache so
  // that the read job starts cold (fio's invalidate=1).
  faio::Request& flush = reqs[0];
  faio::Status s = flush.PrepareFlush(file_);
  if (s == faio::Status::kOk) s = ctx.Submit(flush);
  if (s != faio::Status::kOk) {
    throw ToolError(kExitFailure, fmt::format("laying out {}: flush: {}", path_,
                                              StatusText(static_cast<int>(s))));
  }
  auto w = ctx.Wait(1, std::span<faio_req*>(out));
  int st = w.ok() && w.value().count == 1 ? faio_req_result(out[0], nullptr)
                                          : static_cast<int>(w.status());
  if (st != FAIO_OK) {
    throw ToolError(kExitFailure, fmt::format("laying out {}: flush failed: {}", path_,
                                              StatusText(st, flush.HostError())));
  }
  DropCache();
}

}  // namespace faio::tool
