// Binding glue: errors thrown to JavaScript carry the errno name (code), the syscall and, where one is
// involved, the pid, like Node's own system errors.
#pragma once
#include <napi.h>

#include <string>

#include "failure.h"

namespace crc {
Napi::Error ErrnoError(Napi::Env env, const std::string& syscall, int err, int pid = 0,
                       const std::string& detail = "");

// A Failure (failure.h) made into a JS error: ErrnoError, or one with the failure's own code.
Napi::Error FailureToJs(Napi::Env env, const Failure& f);
}  // namespace crc
