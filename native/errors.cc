#include "errors.h"

#include <string.h>

namespace crc {
Napi::Error ErrnoError(Napi::Env env, const std::string& syscall, int err, int pid,
                       const std::string& detail) {
  std::string msg = syscall + (pid > 0 ? " (pid " + std::to_string(pid) + ")" : "") + ": " +
                    ErrnoName(err) + " (" + strerror(err) + ")";
  if (!detail.empty()) msg += ": " + detail;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (pid > 0) e.Set("pid", Napi::Number::New(env, pid));
  return e;
}

Napi::Error FailureToJs(Napi::Env env, const Failure& f) {
  if (f.code.empty()) return ErrnoError(env, f.syscall, f.err, f.pid, f.detail);
  Napi::Error e = Napi::Error::New(env, f.detail);
  e.Set("code", Napi::String::New(env, f.code));
  if (f.pid > 0) e.Set("pid", Napi::Number::New(env, f.pid));
  return e;
}
}  // namespace crc
