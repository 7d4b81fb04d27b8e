// probe.cc - `faio info`'s direct-I/O probe of a path on Windows (ProbeDirect,
// host/file.h).
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h:
#include <fmt/format.h>

#include <string>

#include "host/file.h"
#include "host/host.h"

namespace faio::tool {
namespace {

// FsName is the volume's file system ("NTFS", "FAT32"...).
std::string FsName(HANDLE h) {
  wchar_t fs[MAX_PATH + 1] = L"";
  if (!GetVolumeInformationByHandleW(h, nullptr, 0, nullptr, nullptr, nullptr, fs, MAX_PATH + 1)) {
    return "unknown";
  }
  std::string out;
  for (const wchar_t* p = fs; *p != L'\0'; ++p) out += *p < 128 ? static_cast<char>(*p) : '?';
  return out.empty() ? "unknown" : out;
}

}  // namespace

bool ProbeDirect(const std::string& path, DirectProbe* out, std::string* error, bool* probe_file) {
  out->flag = "FILE_FLAG_NO_BUFFERING";
  *probe_file = false;
  const std::wstring wpath = Wide(path);
  DWORD attrs = GetFileAttributesW(wpath.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    *error = fmt::format("{}: {}", path, LastErrorText());
    return false;
  }
  if ((attrs & FILE_ATTRIBUTE_DIRECTORY) != 0) {
    // A probe file, unbuffered and overlapped as faio bench opens its files;
    // FILE_FLAG_DELETE_ON_CLOSE removes it whatever happens.
    std::string name = fmt::format("{}\\.faio-info.{}", path, ProcessId());
    HANDLE h =
        OpenShared(name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                   FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING);
    if (h == INVALID_HANDLE_VALUE) {
      out->refusal = LastErrorText();
      h = OpenShared(name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                     FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED);
    }
    if (h == INVALID_HANDLE_VALUE) {
      *error = fmt::format("direct I/O on {}: cannot create a probe file there: {}", path,
                           LastErrorText());
      *probe_file = true;
      return false;
    }
    out->file = File(h);
    out->what = fmt::format("{} (probe file, removed)", path);
    out->fs_name = FsName(h);
    return true;
  }
  HANDLE h = OpenShared(path, GENERIC_READ, OPEN_EXISTING, FILE_FLAG_OVERLAPPED);
  if (h == INVALID_HANDLE_VALUE) {
    *error = fmt::format("{}: cannot open: {}", path, LastErrorText());
    return false;
  }
  out->file = File(h);
  HANDLE dh =
      OpenShared(path, GENERIC_READ, OPEN_EXISTING, FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING);
  out->refusal = dh == INVALID_HANDLE_VALUE ? LastErrorText() : std::string();
  if (dh != INVALID_HANDLE_VALUE) CloseHandle(dh);
  out->what = path;
  out->fs_name = FsName(h);
  return true;
}

}  // namespace faio::tool
