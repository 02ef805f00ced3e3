// Securebits of another task are not in /proc: only the task itself can ask (prctl
// PR_GET_SECUREBITS). We run that one syscall inside it over ptrace, as CRIU's parasite does,
// and leave the task exactly as it was (running or stopped as before, untraced, its interrupted
// syscall restarted). The ptrace work is done by the tracer (tracer.h, securebits_inject.h).
#pragma once
#include <memory>
#include <vector>

#include "failure.h"
#include "tracer.h"

namespace crc {

struct SecurebitsRequest {
  int pid = 0;
  // Threads of pid whose securebits are wanted; every thread of the process is stopped while
  // any of them is injected, since the injected instruction is visible to all of them.
  std::vector<int> tids;
  // Tests only: keep the threads stopped this long, so a test can kill the task meanwhile.
  int test_delay_ms = 0;
};

struct SecurebitsResult {
  bool done = false;  // false: not reached (the batch stopped at an earlier failure)
  std::vector<int> values;
  Failure failure;  // set: this process failed (values then all -1)
};

// True for the failures that mean "not allowed to look" (rather than "went wrong"): ptrace
// refused (EPERM/EACCES from PTRACE_SEIZE) or an unsupported architecture.
bool IsSecurebitsRefusal(const Failure& f);

// Many processes (or one), handed to the tracer as one job as soon as they are known (Post), so that the
// caller can read /proc meanwhile, and joined later (Finish). Each process in turn is attached,
// read, restored and detached; only the next one's leader
// is seized and interrupted ahead (its stop then overlaps this one's work), so at most two
// processes are held at a time. The batch stops after the first failed process (letting go of
// the next), unless the failure is a refusal and continue_on_refusal is set.
//
// When the batch is done every thread is untraced, and one that was stopped (SIGSTOP) is
// stopped again; one that slept is on its way back into its call (it restarts it by itself).
class SecurebitsBatch {
 public:
  static std::unique_ptr<SecurebitsBatch> Post(std::vector<SecurebitsRequest> reqs,
                                               bool continue_on_refusal);
  // Whether the tracer is done with the batch (or died first), without blocking.
  bool Ended();
  // Ended(), after waiting up to max_ns on this CPU for the tracer (TracerPollSpinning).
  bool EndedWithin(long long max_ns);
  // Has the eventfd `fd` written once the tracer is done (a JS thread's loop waits on it with
  // WhenTracerDone); at once if it is. Nothing when the tracer cannot be told: its end is then
  // found by looking.
  void NotifyWhenDone(int fd);
  // Blocks until the tracer is done (at once after Ended() said so); results->at(i) answers
  // reqs[i]: values[k] is the securebits word of its tids[k], or -1 if that thread exited
  // meanwhile. Errno failures name the ptrace request and the tid; an unsupported
  // architecture is ERR_UNSUPPORTED_ARCH. Whatever happens, no thread is left traced or
  // stopped by us.
  void Finish(std::vector<SecurebitsResult>* results);
  ~SecurebitsBatch();  // waits for the tracer if Finish was not called: it writes into the batch

  struct State;

 private:
  SecurebitsBatch() = default;
  std::unique_ptr<State> state_;
};

}  // namespace crc
