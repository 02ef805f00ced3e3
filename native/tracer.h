// The tracer: a helper process (cr-creds-trace) that reads other tasks' securebits over ptrace.
// A process of its own, so that it may trace children of ours (their ptrace stops would
// otherwise reach libuv's waitpid, which would take them for exits), yet kept between jobs,
// since starting a process costs more than a job.
//
// It is a plain fork of ours (no program to find at run time or to ship beside the addon, and
// no libc internals: it makes raw system calls, and of libc uses only memcpy and the like), in a
// session of its own (out of our process group: terminal and service-manager signals to the
// group never reach it), holding none of our descriptors but its end of a socketpair over which
// jobs come and answers go (a notifier asked for comes with its request and is closed once
// written; a handler may keep descriptors of its own), and sharing with us one page of memory
// (which no later fork of ours inherits), where it marks each job answered (for a caller that
// waits on its CPU: TracerPollSpinning).
// It ends when that socket reaches end of file: when our process is gone (whichever thread
// started it), or when we retire it. SIGTERM, SIGINT and SIGHUP sent to it directly are acted on
// between processes, never in the middle of one. Its memory is a copy-on-write copy of ours at
// the fork (but for that page), which the kernel frees as it ends (at most a few seconds after
// the last checkpoint: lib/checkpoint). Notices it holds when it ends are written first.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <vector>

namespace crc {

// Scratch memory of the helper, handed to every job.
constexpr size_t kTracerScratchBytes = 40u << 20;
// The largest request and the largest answer.
constexpr size_t kTracerFrameBytes = 4u << 20;

// Runs in the helper for one job: reads `len` bytes of request, writes the answer into `out`
// (up to kTracerFrameBytes) and returns its length. Raw system calls only (raw_syscall.h), no
// allocation, no locks: the helper is a fork of a multi-threaded process.
using TracerHandler = size_t (*)(const char* request, size_t len, char* out, char* scratch);

// In the helper: whether SIGTERM, SIGINT or SIGHUP came (a handler stops at the next process).
bool TracerTermPending();

// In the helper: a tracee could not be let go (it never stopped for the detach, or the detach
// failed). The helper ends right after sending this job's answer: the kernel's exit of a tracer
// detaches every tracee and drops the trap still pending for it. Our side starts a new helper
// for the next job (the helper stops reading before it answers: a job posted after the answer
// fails to send, EPIPE, and goes to a new one).
void TracerExitAfterAnswer();

struct TracerHelper;

// One job. The owner fills handler and request; the rest is the tracer's.
struct TracerJob {
  TracerHandler handler = nullptr;
  std::vector<char> request;
  std::vector<char> answer;  // once answered
  int state = 0;             // 0 pending, 1 answered, -1 the helper died first
  uint32_t id = 0;
  std::shared_ptr<TracerHelper> helper;
};

// Hands the job to the helper, starting one if there is none, or a new one if our credentials
// changed since it started (it must never hold more privilege than we have now) or it died.
// Any thread; 0, or -errno when no helper could be started or the job not sent.
int TracerPost(TracerJob* job);

// Blocks until the job is answered; false if the helper died first.
bool TracerWait(TracerJob* job);

// Without blocking: 1 answered, 0 not yet, -1 the helper died first.
int TracerPoll(TracerJob* job);

// TracerPoll, but when the job is not answered yet, is the only one the helper has, and this
// thread may run on more than one CPU, first waits up to max_ns for the answer on this CPU:
// spinning, which keeps the CPU awake (waking a halted one costs more than a short spin), on a
// word the helper sets in memory it shares with us once the answer is sent. Never on one CPU
// (the helper could not run), nor behind other jobs (their answers come first).
int TracerPollSpinning(TracerJob* job, long long max_ns);

// Asks the helper to add 1 to the eventfd `fd` once it has answered the job (a JS thread's loop
// waits on it: tracer_wait.h). A copy of fd travels with the request and is closed once written.
// Sent only when a caller is about to wait on its loop: an answer that comes in time needs none.
// Written here at once when the job has ended (answered, or the helper found gone). 0, or
// -errno (the helper is retired, or stopped reading with the answer still on its way: the job's
// end is found by looking).
int TracerNotifyWhenDone(TracerJob* job, int fd);

// Ends the helper if it has nothing to do and reaps it; false (and nothing done) if busy.
bool TracerStopIfIdle();

// Pids of our helpers still to be seen in /proc (the tracer, helpers still exiting, one-shot
// children of one_shot_child.h): a tree walk leaves them out.
std::vector<int> HelperPids();

}  // namespace crc
