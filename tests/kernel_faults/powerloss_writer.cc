// powerloss_writer.cc - the writer of the power-loss harness
// (powerloss_test.cc). It appends fixed-size records to a file through faio's
// public C API and reports each record it considers durable ("acknowledged")
// on a pipe, one line "SEQ OFFSET CRC\n" per record, written with one write(2)
// per batch (atomic on a pipe: less than PIPE_BUF).
//
//   faio_powerloss_writer --file PATH --ack-fd FD [--backend NAME]
//                         [--mode good|ack-before-flush|ack-early]
//                         [--batch N] [--max-records N]
//
// Modes:
//   good              write a batch and a flush of it in one submit; acknowledge
//                     the batch only after the flush completed successfully.
//   ack-before-flush  (negative control) acknowledge each batch as soon as its
//                     writes completed, and never flush: the records sit in the
//                     page cache, which the shutdown drops.
//   ack-early         (negative control) acknowledge records kAhead batches
//                     before they are even submitted, then write and flush them
//                     as "good" does: at any moment acknowledged records exist
//                     that were never written.
//
// A record is kRecord bytes at offset SEQ * kRecord:
//   u32 magic "FPLR", u32 crc32c (ISA-L crc32_iscsi) of the bytes after it,
//   u64 seq, u64 offset, then a payload derived from seq.
// After --max-records it stops writing and waits to be killed. Exit status 0
// never happens in a round (the harness kills it); 2 bad arguments; 3 an I/O
// error (message on stderr).
#include <fcntl.h>
#include <isa-l/crc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "faio/faio.h"
#include "powerloss_record.h"

namespace {

[[noreturn]] void Die(const char* what, int status, int host) {
  std::fprintf(stderr, "faio_powerloss_writer: %s: %s (%s, host error %d)\n", what,
               faio_strerror(status), faio_status_name(status), host);
  std::exit(3);
}

bool WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void Ack(int fd, uint64_t first, size_t count, const std::vector<uint32_t>& crcs) {
  std::string lines;
  for (size_t i = 0; i < count; i++) {
    uint64_t seq = first + i;
    char line[96];
    std::snprintf(line, sizeof line, "%llu %llu %u\n", static_cast<unsigned long long>(seq),
                  static_cast<unsigned long long>(seq * faio_pl::kRecord), crcs[i]);
    lines += line;
  }
  if (!WriteAll(fd, lines)) {
    std::fprintf(stderr, "faio_powerloss_writer: ack pipe: %s\n", std::strerror(errno));
    std::exit(3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, mode = "good", backend = "auto";
  int ack_fd = -1;
  size_t batch = 8;
  uint64_t max_records = 100000;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (v == nullptr) {
      std::fprintf(stderr, "faio_powerloss_writer: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--file") {
      path = v;
    } else if (a == "--mode") {
      mode = v;
    } else if (a == "--backend") {
      backend = v;
    } else if (a == "--ack-fd") {
      ack_fd = std::atoi(v);
    } else if (a == "--batch") {
      batch = static_cast<size_t>(std::atol(v));
    } else if (a == "--max-records") {
      max_records = std::strtoull(v, nullptr, 10);
    } else {
      std::fprintf(stderr, "faio_powerloss_writer: unknown option %s\n", a.c_str());
      return 2;
    }
    i++;
  }
  if (path.empty() || ack_fd < 0 || batch == 0 || batch > 64 ||
      (mode != "good" && mode != "ack-before-flush" && mode != "ack-early")) {
    std::fprintf(stderr,
                 "usage: faio_powerloss_writer --file PATH --ack-fd FD [--backend NAME]\n"
                 "       [--mode good|ack-before-flush|ack-early] [--batch 1..64]"
                 " [--max-records N]\n");
    return 2;
  }
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "faio_powerloss_writer: open %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 3;
  }
  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = backend.c_str();
  faio_ctx* ctx = nullptr;
  int s = faio_ctx_create_ex(&ctx, &o);
  if (s != FAIO_OK) Die("faio_ctx_create_ex", s, 0);
  std::vector<faio_req*> reqs(batch + 1);
  for (faio_req*& r : reqs) {
    s = faio_req_create(&r);
    if (s != FAIO_OK) Die("faio_req_create", s, 0);
  }
  std::vector<unsigned char> bufs(batch * faio_pl::kRecord);
  std::vector<uint32_t> crcs(batch);
  std::vector<faio_req*> out(batch + 1);
  const bool flush = mode != "ack-before-flush";
  constexpr uint64_t kAhead = 3;  // ack-early: batches acknowledged ahead
  uint64_t acked_to = 0;          // ack-early: records acknowledged so far

  for (uint64_t seq = 0, round = 0; seq + batch <= max_records; seq += batch, round++) {
    for (size_t i = 0; i < batch; i++) {
      crcs[i] = faio_pl::Fill(bufs.data() + i * faio_pl::kRecord, seq + i);
    }
    if (mode == "ack-early") {
      uint64_t target = std::min<uint64_t>(seq + (kAhead + 1) * batch, max_records);
      while (acked_to < target) {
        std::vector<uint32_t> c(batch);
        std::vector<unsigned char> tmp(faio_pl::kRecord);
        size_t n = 0;
        for (; n < batch && acked_to + n < target; n++) {
          c[n] = faio_pl::Fill(tmp.data(), acked_to + n);
        }
        Ack(ack_fd, acked_to, n, c);
        acked_to += n;
      }
    }
    for (size_t i = 0; i < batch; i++) {
      uint64_t off = (seq + i) * faio_pl::kRecord;
      s = faio_req_prepare_write(reqs[i], fd, static_cast<int64_t>(off),
                                 bufs.data() + i * faio_pl::kRecord, faio_pl::kRecord, nullptr);
      if (s != FAIO_OK) Die("prepare write", s, 0);
    }
    size_t n = batch;
    if (flush) {
      // FAIO_FLUSH_DATA and FAIO_FLUSH_FULL in turn: both must make the batch
      // durable. The flush completes after the writes before it.
      s = faio_req_prepare_flush_ex(reqs[batch], fd, round % 2 ? FAIO_FLUSH_FULL : FAIO_FLUSH_DATA,
                                    nullptr);
      if (s != FAIO_OK) Die("prepare flush", s, 0);
      n++;
    }
    s = faio_ctx_submit(ctx, reqs.data(), n);
    if (s != FAIO_OK) Die("submit", s, 0);
    size_t got = 0;
    while (got < n) {
      uint32_t count = 0;
      s = faio_ctx_wait(ctx, n - got, FAIO_WAIT_INDEFINITE, out.data(), out.size(), &count);
      got += count;
      if (s != FAIO_OK && s != FAIO_E_INTERRUPTED) Die("wait", s, 0);
    }
    for (size_t i = 0; i < n; i++) {
      size_t k = 0;
      s = faio_req_result(reqs[i], &k);
      if (s != FAIO_OK) Die(i < batch ? "write" : "flush", s, faio_req_host_error(reqs[i]));
      if (i < batch && k != faio_pl::kRecord) {
        std::fprintf(stderr, "faio_powerloss_writer: short write (%zu bytes)\n", k);
        return 3;
      }
    }
    if (mode != "ack-early") Ack(ack_fd, seq, batch, crcs);
  }
  // Done: wait for the harness to stop us.
  for (;;) pause();
}
