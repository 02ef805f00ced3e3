// Transitional: tracer.cc still names this header and VmChildPids(). At merge, tracer.cc
// includes one_shot_child.h and calls OneShotChildPids(), and this file goes.
#pragma once
#include "one_shot_child.h"

namespace crc {
inline std::vector<int> VmChildPids() { return OneShotChildPids(); }
}  // namespace crc
