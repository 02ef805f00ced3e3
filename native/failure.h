// The one error convention of the addon's plain C++ parts: a function that can fail returns
// false (or -errno where a count or descriptor is the answer) and records what failed in a
// Failure, made into a JS error only on the JS thread (live_worker.h). Code in the forked
// tracer, which cannot allocate, returns -errno throughout.
#pragma once
#include <string>

namespace crc {

// "EPERM" for EPERM; "E<number>" when the C library has no name.
std::string ErrnoName(int err);

// A failure recorded where no napi_env is at hand (worker thread, helper child).
struct Failure {
  bool set = false;
  // Non-errno failures carry their own code ("ERR_PROC_PARSE", "ERR_UNSUPPORTED_ARCH", ...);
  // errno failures leave it empty and set err.
  std::string code;
  std::string syscall;
  int err = 0;
  int pid = 0;
  std::string detail;

  void Errno(const std::string& sc, int e, int p, const std::string& d = "") {
    set = true;
    code.clear();
    syscall = sc;
    err = e;
    pid = p;
    detail = d;
  }
  void Coded(const std::string& c, const std::string& message, int p) {
    set = true;
    code = c;
    syscall.clear();
    err = 0;
    pid = p;
    detail = message;
  }
};

// One line for messages that embed a failure ("ptrace(PTRACE_SEIZE): EPERM").
inline std::string FailureToString(const Failure& f) {
  if (!f.code.empty()) return f.detail;
  return f.syscall + ": " + ErrnoName(f.err) + (f.detail.empty() ? "" : " (" + f.detail + ")");
}

}  // namespace crc
