// Module entry: collects the exports every source file registered.
#include <vector>

#include "registry.h"

namespace crc {
namespace {
std::vector<ExportFn>& Registry() {
  static std::vector<ExportFn> fns;  // function-local: safe across static-init order
  return fns;
}
}  // namespace

int RegisterExports(ExportFn fn) {
  Registry().push_back(fn);
  return 0;
}
}  // namespace crc

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto fn : crc::Registry()) fn(env, exports);
  return exports;
}

NODE_API_MODULE(cr_creds, Init)
