// The kernel side of the agreement harness (lib/agreement): a freshly forked child performs a
// list of CredOps with the restart child's own op code (ApplyOp, spawn_child.cc), going on past
// refusals, reports each op's errno and its creds at the end (ReadCredState), and may finally
// execve a reporter program that prints the creds it runs with. Synchronous: the child does a
// few dozen syscalls and the caller wants the answer at once.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cred_state.h"
#include "failure.h"
#include "spawn_plan.h"

namespace crc {

struct AgreementRun {
  std::vector<int> errors;           // per op: 0, or the errno that refused it
  std::unique_ptr<CredState> creds;  // after the last op
  bool exec_failed = false;          // execve of the reporter failed with exec_errno
  int exec_errno = 0;
  std::string exec_output;           // else what the reporter wrote on stdout
};

// exec_path: the reporter to execve after the ops, or null for none.
bool RunAgreementOps(const Plan& plan, const std::string* exec_path, AgreementRun* run, Failure* f);

}  // namespace crc
