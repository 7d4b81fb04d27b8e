// info_windows.cc - `faio info`'s probe of a path on Windows (see info.h).
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h:
#include <fmt/format.h>

#include <string>

#include "common.h"
#include "host.h"
#include "info.h"

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

int ProbePath(const std::string& path) {
  const std::wstring wpath = Wide(path);
  DWORD attrs = GetFileAttributesW(wpath.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    throw ToolError(kExitFailure, fmt::format("{}: {}", path, LastErrorText()));
  }
  if ((attrs & FILE_ATTRIBUTE_DIRECTORY) != 0) {
    // A probe file, unbuffered and overlapped as faio bench opens its files;
    // FILE_FLAG_DELETE_ON_CLOSE removes it whatever happens.
    std::string name = fmt::format("{}\\.faio-info.{}", path, ProcessId());
    HANDLE h =
        OpenShared(name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                   FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING);
    std::string refusal;
    if (h == INVALID_HANDLE_VALUE) {
      refusal = LastErrorText();
      h = OpenShared(name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                     FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED);
    }
    if (h == INVALID_HANDLE_VALUE) {
      fmt::print("direct I/O on {}: cannot create a probe file there: {}\n", path, LastErrorText());
      return kExitFailure;
    }
    PrintAlignment(fmt::format("{} (probe file, removed)", path), FsName(h), h,
                   "FILE_FLAG_NO_BUFFERING", refusal);
    CloseHandle(h);
    return kExitOk;
  }
  HANDLE h = OpenShared(path, GENERIC_READ, OPEN_EXISTING, FILE_FLAG_OVERLAPPED);
  if (h == INVALID_HANDLE_VALUE) {
    throw ToolError(kExitFailure, fmt::format("{}: cannot open: {}", path, LastErrorText()));
  }
  HANDLE dh =
      OpenShared(path, GENERIC_READ, OPEN_EXISTING, FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING);
  std::string refusal = dh == INVALID_HANDLE_VALUE ? LastErrorText() : std::string();
  if (dh != INVALID_HANDLE_VALUE) CloseHandle(dh);
  PrintAlignment(path, FsName(h), h, "FILE_FLAG_NO_BUFFERING", refusal);
  CloseHandle(h);
  return kExitOk;
}

}  // namespace faio::tool
