// Helper processes that share our memory (clone CLONE_VM): a process of their own, so they may
// trace tasks (even children of ours, whose ptrace stops would otherwise reach libuv's waitpid,
// which would take them for exits) and setns, yet a job for one is only a pointer.
//
// Two kinds: RunInVmChild starts one for a single function and waits for it (setns and
// experiments, which change the helper for good); the tracer is kept between jobs, since
// starting and ending a process costs more (35 + 65 us here) than a ptrace job itself.
#pragma once
#include <memory>
#include <vector>

namespace crc {

// Runs fn(arg) in a child that shares our memory; the calling thread sleeps until the child is
// done with our memory (it is then exiting). fn runs with every signal blocked and may use only
// syscalls and memory prepared before the call: no allocation, no locks. Returns fn's exit code
// (0..255; 255 if the child was killed), or -errno if clone failed.
int RunInVmChild(int (*fn)(void*), void* arg);

// Reaps helpers that were still exiting when their caller went on.
void ReapVmChildren();

// --- the tracer -------------------------------------------------------------------------------

// Scratch memory of the tracer, handed to every job: its own, reused from job to job (fresh
// pages for each job would cost a fault each).
constexpr size_t kTracerScratchBytes = 4u << 20;

struct TracerInstance;

// One job for the tracer. `run` runs in the tracer process, which shares our memory but none of
// our threads: it may use only raw system calls (raw_syscall.h: libc's wrappers write errno),
// the job's own memory and the scratch; no allocation, no locks.
struct TracerJob {
  void (*run)(void* arg, char* scratch) = nullptr;
  void* arg = nullptr;
  // An eventfd (TracerNotifierOpen) the tracer adds 1 to once the job has run; -1: none.
  int notify_fd = -1;
  // The tracer's own:
  TracerJob* next = nullptr;
  int done = 0;
  int spin = 0;  // TracerSpin's handshake: whether the owner still wants the notice
  std::shared_ptr<TracerInstance> tracer;
};

// Hands the job to the tracer, starting one if there is none, or a new one if our credentials
// changed since it started (it must never hold more privilege than we have now) or the job's
// notifier was opened since (it would not hold it). The tracer ends when we do: it watches the
// read end of a pipe only this process can write to, not the thread that started it. Any thread;
// returns 0, or -errno when no tracer could be started (the job then never runs).
int TracerPost(TracerJob* job);

// Blocks until a posted job has run; false if the tracer died (was killed) before it finished.
bool TracerWait(TracerJob* job);

// The same without blocking: 1 the job has run, 0 not yet, -1 its tracer died first.
int TracerPoll(TracerJob* job);

// Waits for a posted job on this CPU, up to max_us, rather than sleeping: the ptrace work is
// a few tens of microseconds, and waking a sleeping thread costs as much again on a machine
// whose idle CPUs halt. The job's notice is then not sent if the job ends during the spin. Never
// spins when this thread may run on one CPU only (it would hold the tracer off). Returns as
// TracerPoll does; after 0, the notice will come.
int TracerSpin(TracerJob* job, long max_us);

// An eventfd for TracerJob::notify_fd (a JS thread's event loop watches it: tracer_wait.h), or
// -errno. The tracer holds no descriptor but these: each one opened after it started makes the
// next post that names it start a new tracer.
int TracerNotifierOpen();
void TracerNotifierClose(int fd);

// Ends the tracer if it has nothing to do and reaps it; false (and nothing done) if it is busy.
bool TracerStopIfIdle();

// Pids of our helpers that may still be seen in /proc (the tracer, helpers still exiting; those
// already gone are reaped first): a tree walk leaves them out.
std::vector<int> HelperPids();

}  // namespace crc
