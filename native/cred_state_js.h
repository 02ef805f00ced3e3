// Binding glue: a CredState as JS sees it (ThreadCreds in lib/native/binding.ts).
#pragma once
#include <napi.h>
#include <stdint.h>

#include "cred_state.h"

namespace crc {

// {uid, euid, suid, fsuid, gid, egid, sgid, fsgid, groups: number[],
//  caps: {inheritable, permitted, effective, bounding, ambient: bigint}, securebits, noNewPrivs}
Napi::Object CredStateToJs(Napi::Env env, const CredState& s);

// The five capability sets as JS sees them: {inheritable, permitted, effective, bounding, ambient}.
Napi::Object CapsToJs(Napi::Env env, uint64_t inheritable, uint64_t permitted, uint64_t effective,
                      uint64_t bounding, uint64_t ambient);

}  // namespace crc
