// Binding glue: a JS CredOp (lib/model/ops.ts, not execve) as an OpRec of a Plan, for the
// restart child (spawn_js.cc) and the agreement child (agreement_js.cc).
#pragma once
#include <napi.h>

#include "spawn_plan.h"

namespace crc {

// Appends the op's gids, map texts and map helper command lines to *plan. Throws a JS
// TypeError / RangeError for a malformed op.
OpRec ParseOp(Plan* plan, Napi::Object o);

// A bigint (or a number) as uint64; RangeError past 64 bits.
uint64_t ToU64(Napi::Value v, const char* what);

}  // namespace crc
