// Binding glue: a CredState as JS sees it (ThreadCreds in lib/native/binding.ts).
#pragma once
#include <napi.h>

#include "cred_state.h"

namespace crc {

// {uid, euid, suid, fsuid, gid, egid, sgid, fsgid, groups: number[],
//  caps: {inheritable, permitted, effective, bounding, ambient: bigint}, securebits, noNewPrivs}
Napi::Object CredStateToJs(Napi::Env env, const CredState& s);

}  // namespace crc
