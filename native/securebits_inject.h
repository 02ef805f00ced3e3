// The tracer's side of reading securebits (tracer.h): the request and answer it exchanges with
// securebits_ptrace.cc, and the handler that runs in the helper.
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

namespace crc {

// A request: this header, then per process a SbItem followed by its ntids thread ids.
struct SbRequest {
  int32_t nitems;
  int32_t continue_on_refusal;
};
struct SbItem {
  int32_t pid;
  int32_t delay_ms;  // tests only: threads held stopped this long
  int32_t ntids;
  int32_t pad;
};

// The answer: per process a SbResult followed by its ntids values (-1: the thread exited).
struct SbResult {
  int32_t done;  // 0: not reached (the batch stopped at an earlier failure)
  int32_t err;   // nonzero: failed, with this errno...
  int32_t tid;   // ...at this thread
  int32_t ntids;
  // Constant strings of ours (the helper is a fork: the same addresses); null when none.
  const char* syscall;
  const char* detail;
};

// The name PTRACE_SEIZE failures carry (a refusal is EPERM or EACCES there).
extern const char kSeizeName[];
// The errno of a task the stub cannot serve (another instruction set, no vDSO of the kernel's):
// a refusal too.
constexpr int kNoStubErrno = ENOEXEC;

// Finds, in our own process, where the stub goes in a vDSO (tracee_regs.h). Called before the
// helper is started (which inherits what it found); false when there is no room.
bool SecurebitsStubPrepare();

// The TracerHandler for SbRequest.
size_t SecurebitsServe(const char* request, size_t len, char* out, char* scratch);

}  // namespace crc
