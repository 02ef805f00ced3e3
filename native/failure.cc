#include "failure.h"

#include <string.h>

namespace crc {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? std::string(name) : "E" + std::to_string(err);
}

}  // namespace crc
