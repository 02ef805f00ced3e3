// Each native source file registers its own exports, so adding an area of the addon never
// touches a shared list (see addon.cc).
#pragma once
#include <napi.h>

namespace crc {
using ExportFn = void (*)(Napi::Env, Napi::Object);
int RegisterExports(ExportFn fn);
}  // namespace crc

#define CRC_CONCAT_(a, b) a##b
#define CRC_CONCAT(a, b) CRC_CONCAT_(a, b)
#define CRC_REGISTER_EXPORTS(fn) \
  static const int CRC_CONCAT(crc_registered_, __LINE__) = ::crc::RegisterExports(fn)
