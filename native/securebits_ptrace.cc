#include "securebits_ptrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <memory>

#include "raw_syscall.h"
#include "registry.h"

namespace crc {

namespace {
constexpr const char* kSeize = "ptrace(PTRACE_SEIZE)";
}  // namespace

bool IsSecurebitsRefusal(const Failure& f) {
  return f.code == "ERR_UNSUPPORTED_ARCH" ||
         (f.code.empty() && (f.err == EPERM || f.err == EACCES) && f.syscall == kSeize);
}

#if defined(__x86_64__)
namespace {

// Everything below down to RunJob runs in the tracer (vm_child.h): raw system calls only, each
// answering its result or -errno; no allocation.

constexpr int kMaxTracees = 4096;
constexpr int kMaxStopLoops = 64;

struct Tracee {
  int tid;
  bool attached;
  bool exited;
  // Resumed by us and no stop seen since: must be interrupted before it can be restored.
  bool running;
  bool dirty;    // registers (and maybe the code word) replaced: restore before detaching
  bool patched;  // the code word at addr replaced (else addr holds the task's own `syscall`)
  bool last_stop_is_signal;  // the current stop is a signal-delivery-stop (detach may inject)
  bool group_stopped;        // stopped (SIGSTOP...) when we attached: stopped again at detach
  int npending;              // signals we took from the task and owe it back
  int pending[8];
  uintptr_t addr;
  unsigned long code;
  struct user_regs_struct saved;
};


// One process of a batch. Everything the tracer touches lives here, in Job (both allocated
// before the job is posted) or in the tracer's scratch (Scratch).
struct Item {
  int pid;
  int delay_ms;
  const int* wanted;
  int nwanted;
  int* values;
  char* stopped;  // per wanted thread: group-stopped when attached (stopped again by Settle)
  char path[32];  // /proc/PID/task
  Tracee* tracees;  // room for kMaxTracees (in the scratch)
  int ntracees;
  bool begun;     // its leader seized and interrupted ahead of its turn (see RunJob)
  bool done;      // the helper finished with it (success or failure)
  // failure
  const char* fail_syscall;
  int fail_errno;
  int fail_tid;
  const char* fail_detail;
};

struct Job {
  Item* items;
  int nitems;
  bool continue_on_refusal;
  Item* cur;  // the process being worked on
  unsigned long sigchld_mask;  // kernel sigset for rt_sigtimedwait
  char* dirbuf;  // in the scratch
};

// The tracer's scratch, as a job uses it: two processes are held at a time (the current one and
// the next), two slots of tracees in turn.
struct Scratch {
  Tracee slots[2][kMaxTracees];
  char dirbuf[16384];
};
static_assert(sizeof(Scratch) <= kTracerScratchBytes, "the tracer's scratch is too small");

void Fail(Job* j, const char* syscall, int err, int tid, const char* detail = nullptr) {
  Item* it = j->cur;
  if (it->fail_syscall) return;  // keep the first failure
  it->fail_syscall = syscall;
  it->fail_errno = err;
  it->fail_tid = tid;
  it->fail_detail = detail;
}

// The raw request: 0 or -errno; PEEKTEXT stores the word through `data`.
long Ptrace(long req, int tid, void* addr, void* data) { return Sys(SYS_ptrace, req, tid, addr, data); }

void SleepMicros(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (Sys(SYS_nanosleep, &ts, &ts) == -EINTR) {
  }
}

long long NowNs() {
  struct timespec ts;
  Sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long Wait4(int tid, int* status, int options) { return Sys(SYS_wait4, tid, status, options, 0); }

enum class Ev { kStop, kExited, kError, kTimeout };

// Waits for the next ptrace event of t. Between looks (wait4, WNOHANG) the tracer sleeps in
// rt_sigtimedwait for SIGCHLD (blocked, so it stays pending), which the kernel sends the tracer on
// every stop and exit of a tracee: no event can slip between a look and the sleep, and the CPU is
// free for the tracee meanwhile (it usually runs right there, woken by us). A tracee's exit is
// reaped here: that hands the task on to its real parent (never the tracer, a process of its own),
// so a child of ours stays a zombie for libuv to reap; not reaped, it would stay attached to the
// tracer, which lives on, out of libuv's reach.
Ev WaitEvent(Job* j, Tracee* t, int* status) {
  long long deadline = 0;
  for (;;) {
    long r = Wait4(t->tid, status, __WALL | WNOHANG);
    if (r < 0) {
      if (r == -EINTR) continue;
      if (r == -ECHILD) {  // reaped elsewhere: it is gone
        t->exited = true;
        t->running = false;
        return Ev::kExited;
      }
      Fail(j, "wait4", int(-r), t->tid);
      return Ev::kError;
    }
    if (r == 0) {
      long long now = NowNs();
      if (deadline == 0) {
        deadline = now + 10 * 1000000000LL;  // 10 s: a task that never stops (D state)
      } else if (now >= deadline) {
        Fail(j, "wait4", ETIMEDOUT, t->tid, "the task did not stop for ptrace");
        return Ev::kTimeout;
      }
      long long left = deadline - now;
      struct timespec ts = {time_t(left / 1000000000LL), long(left % 1000000000LL)};
      Sys(SYS_rt_sigtimedwait, &j->sigchld_mask, 0, &ts, sizeof j->sigchld_mask);
      continue;
    }
    t->running = false;
    if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
      t->exited = true;
      return Ev::kExited;
    }
    // Event stops (PTRACE_INTERRUPT, group-stop) carry an event in bits 16..23; a bare stop is a
    // signal-delivery-stop.
    t->last_stop_is_signal = (*status >> 16) == 0;
    return Ev::kStop;
  }
}

bool IsEventStop(int status) { return (status >> 16) == PTRACE_EVENT_STOP; }

// A signal the task was about to take while we held it: give it back at detach.
void OweSignal(Tracee* t, int sig) {
  for (int i = 0; i < t->npending; i++)
    if (t->pending[i] == sig && sig < SIGRTMIN) return;  // standard signals do not queue
  if (t->npending < 8) t->pending[t->npending++] = sig;
}

// Parses decimal names from a getdents64 buffer: the threads of the current process.
int ListThreads(Job* j, int* out, int max) {
  int n = 0;
  int fd = int(Sys(SYS_openat, AT_FDCWD, j->cur->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) return fd;
  for (;;) {
    long got = Sys(SYS_getdents64, fd, j->dirbuf, sizeof(Scratch::dirbuf));
    if (got < 0) {
      Sys(SYS_close, fd);
      return int(got);
    }
    if (got == 0) break;
    for (long off = 0; off < got;) {
      struct dirent64* d = reinterpret_cast<struct dirent64*>(j->dirbuf + off);
      off += d->d_reclen;
      int tid = 0;
      const char* p = d->d_name;
      if (*p < '0' || *p > '9') continue;
      for (; *p >= '0' && *p <= '9'; p++) tid = tid * 10 + (*p - '0');
      if (n < max) out[n++] = tid;
    }
  }
  Sys(SYS_close, fd);
  return n;
}

Tracee* Find(Job* j, int tid) {
  Item* it = j->cur;
  for (int i = 0; i < it->ntracees; i++)
    if (it->tracees[i].tid == tid) return &it->tracees[i];
  return nullptr;
}

// Seizes and interrupts the threads in tids not held yet; *added counts them.
bool SeizeNew(Job* j, const int* tids, int n, int* added) {
  Item* it = j->cur;
  *added = 0;
  for (int i = 0; i < n; i++) {
    if (Find(j, tids[i])) continue;
    if (it->ntracees >= kMaxTracees) {
      Fail(j, kSeize, E2BIG, it->pid, "too many threads");
      return false;
    }
    if (long r = Ptrace(PTRACE_SEIZE, tids[i], nullptr, nullptr)) {
      if (r == -ESRCH) continue;  // that thread just exited
      Fail(j, kSeize, int(-r), tids[i]);
      return false;
    }
    Tracee* t = &it->tracees[it->ntracees++];
    memset(t, 0, sizeof *t);
    t->tid = tids[i];
    t->attached = true;
    t->running = true;
    ++*added;
    if (long r = Ptrace(PTRACE_INTERRUPT, t->tid, nullptr, nullptr)) {
      if (r == -ESRCH) {
        t->exited = true;
        t->running = false;
        continue;
      }
      Fail(j, "ptrace(PTRACE_INTERRUPT)", int(-r), t->tid);
      return false;
    }
  }
  return true;
}

// The first step of AttachAll, which may run ahead of the process's turn: the leader, seized
// and interrupted, without waiting for its stop.
void AttachLeader(Job* j) {
  Item* it = j->cur;
  int added;
  it->begun = true;
  SeizeNew(j, &it->pid, 1, &added);
}

// Seizes and interrupts every thread, repeating the listing until no new thread appears (a
// thread can clone until it is stopped). The leader goes first (AttachLeader), without a
// listing: once it and every thread we know of are stopped, a thread count (the nlink of
// /proc/PID/task) equal to theirs means there is no other thread, and none can start; only
// otherwise is the directory listed (again). Most processes have one thread: one stat instead
// of two listings.
bool AttachAll(Job* j) {
  int tids[kMaxTracees];
  Item* it = j->cur;
  if (!it->begun) AttachLeader(j);
  if (it->fail_syscall) return false;
  for (int round = 0; round < 64; round++) {
    int added = 0;
    if (round == 0) {
      added = it->ntracees;
      if (added == 0) continue;  // the leader is gone: the listing says whether the process is
    } else {
      int n = ListThreads(j, tids, kMaxTracees);
      if (n < 0) {
        Fail(j, "open /proc/PID/task", n == -ENOENT ? ESRCH : -n, it->pid, "the process is gone");
        return false;
      }
      if (!SeizeNew(j, tids, n, &added)) return false;
      if (added == 0) return true;
    }
    // Wait for this round's stops before listing again: a stopped thread cannot clone.
    bool any_exited = false;
    for (int i = 0; i < it->ntracees; i++) {
      Tracee* t = &it->tracees[i];
      if (t->running && !t->exited) {
        int status = 0;
        Ev ev = WaitEvent(j, t, &status);
        if (ev == Ev::kError || ev == Ev::kTimeout) return false;
        if (ev == Ev::kStop && !IsEventStop(status)) {
          // Took a signal before the interrupt trap: owe it back; the trap is still pending but
          // we can work from this stop as well as from it.
          OweSignal(t, WSTOPSIG(status));
        }
        // A group-stop reports its stop signal rather than the interrupt's SIGTRAP: the task
        // was stopped (SIGSTOP and the like) before we came.
        if (ev == Ev::kStop && IsEventStop(status) && WSTOPSIG(status) != SIGTRAP)
          t->group_stopped = true;
      }
      any_exited |= t->exited;
    }
    // Every thread we hold is stopped. If they are all the process has, we are done.
    struct stat st;
    if (!any_exited && Sys(SYS_newfstatat, AT_FDCWD, it->path, &st, 0) == 0 &&
        long(st.st_nlink) - 2 == it->ntracees)
      return true;
  }
  return true;
}

// Runs prctl(PR_GET_SECUREBITS) in t: one `syscall` instruction written at rip, registers set
// up for it, one single step, result from rax. Everything is put back before returning.
bool Inject(Job* j, Tracee* t, int* value) {
  if (long r = Ptrace(PTRACE_GETREGS, t->tid, nullptr, &t->saved)) {
    Fail(j, "ptrace(PTRACE_GETREGS)", int(-r), t->tid,
         r == -ESRCH ? "the process exited during checkpoint" : nullptr);
    return false;
  }
  // A task stopped in a system call (the usual case: asleep in one) sits just after its
  // `syscall` instruction: that very instruction runs ours, and the task's code is never
  // written (no private copy of a shared text page left behind). rip - 2 is in rip's page, so
  // executable. One caught on its way back into an interrupted call (we let go of it a moment
  // ago, say) sits on its `syscall`, rewound by the kernel for the restart: that one, at rip,
  // serves as well. Otherwise one `syscall` is written over the word at rip.
  // The raw request stores the word through `data` (glibc's wrapper returns it instead).
  unsigned long word = 0;
  uintptr_t rip = t->saved.rip;
  t->patched = false;
  if ((rip & 0xfff) >= 2 && rip < 0x800000000000UL &&
      Ptrace(PTRACE_PEEKTEXT, t->tid, reinterpret_cast<void*>(rip - 2), &word) == 0 &&
      (word & 0xffff) == 0x050fUL) {
    t->addr = rip - 2;
  } else {
    t->addr = rip;
    if (long r = Ptrace(PTRACE_PEEKTEXT, t->tid, reinterpret_cast<void*>(t->addr), &word)) {
      Fail(j, "ptrace(PTRACE_PEEKTEXT)", int(-r), t->tid);
      return false;
    }
  }
  if (t->addr == rip && (word & 0xffff) != 0x050fUL) {
    t->code = word;
    unsigned long patched = (t->code & ~0xffffUL) | 0x050fUL;  // 0f 05: syscall
    t->dirty = true;
    t->patched = true;
    if (long r = Ptrace(PTRACE_POKETEXT, t->tid, reinterpret_cast<void*>(t->addr),
                        reinterpret_cast<void*>(patched))) {
      Fail(j, "ptrace(PTRACE_POKETEXT)", int(-r), t->tid);
      return false;
    }
  }
  struct user_regs_struct regs = t->saved;
  regs.rax = SYS_prctl;
  // Not in a syscall as far as the kernel's restart logic is concerned: the interrupted
  // syscall's restart happens later, from the saved registers.
  regs.orig_rax = static_cast<unsigned long long>(-1);
  regs.rdi = PR_GET_SECUREBITS;
  regs.rsi = regs.rdx = regs.r10 = regs.r8 = 0;
  regs.rip = t->addr;
  t->dirty = true;
  if (long r = Ptrace(PTRACE_SETREGS, t->tid, nullptr, &regs)) {
    Fail(j, "ptrace(PTRACE_SETREGS)", int(-r), t->tid);
    return false;
  }
  for (int loop = 0;; loop++) {
    if (loop >= kMaxStopLoops) {
      Fail(j, "ptrace(PTRACE_SINGLESTEP)", EIO, t->tid, "the injected syscall never completed");
      return false;
    }
    if (long r = Ptrace(PTRACE_SINGLESTEP, t->tid, nullptr, nullptr)) {
      Fail(j, "ptrace(PTRACE_SINGLESTEP)", int(-r), t->tid);
      return false;
    }
    t->running = true;
    int status = 0;
    Ev ev = WaitEvent(j, t, &status);
    if (ev == Ev::kExited) {
      Fail(j, "ptrace(PTRACE_SINGLESTEP)", ESRCH, t->tid, "the process exited during checkpoint");
      return false;
    }
    if (ev != Ev::kStop) return false;
    if (IsEventStop(status)) continue;  // a pending interrupt or group-stop: step again
    if (WSTOPSIG(status) != SIGTRAP) {
      OweSignal(t, WSTOPSIG(status));  // not now: it would run a handler mid-injection
      continue;
    }
    struct user_regs_struct after;
    if (long r = Ptrace(PTRACE_GETREGS, t->tid, nullptr, &after)) {
      Fail(j, "ptrace(PTRACE_GETREGS)", int(-r), t->tid);
      return false;
    }
    if (after.rip != t->addr + 2) continue;  // a trap before our instruction ran
    long r = static_cast<long>(after.rax);
    if (r < 0) {
      Fail(j, "prctl(PR_GET_SECUREBITS) in the task", static_cast<int>(-r), t->tid);
      return false;
    }
    *value = static_cast<int>(r);
    return true;
  }
}

// Puts back the code word and the registers; the task must be stopped.
void Restore(Job* j, Tracee* t) {
  if (!t->dirty) return;
  if (t->patched) {
    if (long r = Ptrace(PTRACE_POKETEXT, t->tid, reinterpret_cast<void*>(t->addr),
                        reinterpret_cast<void*>(t->code)))
      Fail(j, "ptrace(PTRACE_POKETEXT) restoring code", int(-r), t->tid);
  }
  if (long r = Ptrace(PTRACE_SETREGS, t->tid, nullptr, &t->saved))
    Fail(j, "ptrace(PTRACE_SETREGS) restoring registers", int(-r), t->tid);
  t->dirty = false;
}

void DetachAll(Job* j) {
  Item* it = j->cur;
  for (int i = 0; i < it->ntracees; i++) {
    Tracee* t = &it->tracees[i];
    if (!t->attached || t->exited) continue;
    if (t->running) {
      // Resumed by us (single step) when the failure happened: stop it again to restore it.
      Ptrace(PTRACE_INTERRUPT, t->tid, nullptr, nullptr);
      for (int loop = 0; t->running && loop < kMaxStopLoops; loop++) {
        int status = 0;
        Ev ev = WaitEvent(j, t, &status);
        if (ev != Ev::kStop) break;
        if (!IsEventStop(status) && WSTOPSIG(status) != SIGTRAP) OweSignal(t, WSTOPSIG(status));
      }
      if (t->exited || t->running) continue;
    }
    Restore(j, t);
    // The signal we owe rides on the detach when the task sits in a signal-delivery-stop;
    // otherwise it is sent again once the task runs.
    int first = 0;
    long sig = 0;
    if (t->last_stop_is_signal && t->npending > 0) sig = t->pending[first++];
    long r = Ptrace(PTRACE_DETACH, t->tid, nullptr, reinterpret_cast<void*>(sig));
    if (r != 0 && r != -ESRCH) Fail(j, "ptrace(PTRACE_DETACH)", int(-r), t->tid);
    for (int i = first; i < t->npending; i++) Sys(SYS_tgkill, j->cur->pid, t->tid, t->pending[i]);
    t->attached = false;
  }
}

// One process: attach every thread, inject into the wanted ones, put everything back, detach.
void RunOne(Job* j) {
  Item* it = j->cur;
  if (AttachAll(j)) {
    if (it->delay_ms > 0) SleepMicros(long(it->delay_ms) * 1000);
    for (int w = 0; w < it->nwanted; w++) {
      Tracee* t = Find(j, it->wanted[w]);
      it->values[w] = -1;
      if (!t || t->exited) continue;
      // An exit during the test's delay (the task was killed) shows up here. (Killed at any
      // other moment, the task fails the first request of Inject with ESRCH.)
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (it->delay_ms > 0 &&
          Sys(SYS_waitid, P_PID, t->tid, &si, WEXITED | __WALL | WNOHANG | WNOWAIT) == 0 &&
          si.si_pid != 0) {
        int status;
        WaitEvent(j, t, &status);
        Fail(j, "ptrace", ESRCH, t->tid, "the process exited during checkpoint");
        break;
      }
      int value = 0;
      bool ok = Inject(j, t, &value);
      if (!t->running && !t->exited) Restore(j, t);
      if (!ok) break;
      it->values[w] = value;
      it->stopped[w] = t->group_stopped;
    }
  }
  DetachAll(j);
}

bool IsRefusal(const Item* it) {
  return it->fail_syscall == kSeize && (it->fail_errno == EPERM || it->fail_errno == EACCES);
}

// Appends the decimal digits of v (>= 0) at p; returns the end.
char* PutInt(char* p, int v) {
  char digits[12];
  int n = 0;
  do digits[n++] = char('0' + v % 10);
  while ((v /= 10) > 0);
  while (n) *p++ = digits[--n];
  return p;
}

// Appends the string s at p; returns the end.
char* PutStr(char* p, const char* s) {
  while (*s) *p++ = *s++;
  return p;
}

// The state letter of a thread (from /proc/PID/task/TID/stat), or 0 if it cannot be read; buf
// has room for 1 KB.
char ThreadState(char* buf, int pid, int tid) {
  char path[64];
  char* p = PutStr(PutInt(PutStr(path, "/proc/"), pid), "/task/");
  *PutStr(PutInt(p, tid), "/stat") = 0;
  int fd = int(Sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 0;
  long n = Sys(SYS_read, fd, buf, 1024);
  Sys(SYS_close, fd);
  for (long i = n - 1; i > 0; i--)  // comm may hold spaces and parentheses: the last ')'
    if (buf[i] == ')') return i + 2 < n && buf[i + 1] == ' ' ? buf[i + 2] : 0;
  return 0;
}

// Returns once a detached thread that was group-stopped is stopped again: it runs a moment in
// the kernel to get back into its group-stop, and its caller, told we are done, may look at once.
// Usually one look; bounded (40 ms) for a SIGCONT that comes meanwhile. (A thread that slept is
// not waited for: it goes back into its call by itself, and an injection that catches it on the
// way finds the `syscall` it is about to run again and uses that: see Inject.)
void Settle(char* buf, int pid, int tid) {
  long long deadline = NowNs() + 40 * 1000000LL;
  for (int tries = 0;; tries++) {
    char st = ThreadState(buf, pid, tid);
    if (st == 0 || st == 'Z' || st == 'X' || st == 't' || st == 'T') return;
    if (NowNs() >= deadline) return;
    if (tries < 8)
      Sys(SYS_sched_yield);  // it may be waiting for this very CPU
    else
      SleepMicros(20);
  }
}

void RunJob(void* arg, char* scratch) {
  Job* j = static_cast<Job*>(arg);
  Scratch* sc = reinterpret_cast<Scratch*>(scratch);
  j->dirbuf = sc->dirbuf;
  // The next process's leader is interrupted while this one is worked on, so that its stop
  // (the wait for a sleeping task to be scheduled) overlaps with our work here rather than
  // adding to it. Only that one runs ahead: each process is still held for about as long as it
  // takes to read one.
  for (int i = 0; i < j->nitems; i++) {
    Item* it = &j->items[i];
    it->tracees = sc->slots[i % 2];
    Item* ahead = i + 1 < j->nitems ? &j->items[i + 1] : nullptr;
    if (ahead) ahead->tracees = sc->slots[(i + 1) % 2];
    j->cur = it;
    if (!it->begun) AttachLeader(j);
    if (ahead && ahead->pid != it->pid) {  // the same pid twice: one at a time
      j->cur = ahead;
      AttachLeader(j);
    }
    j->cur = it;
    RunOne(j);
    it->done = true;
    if (it->fail_syscall && !(j->continue_on_refusal && IsRefusal(it))) {
      // Stopping here: let go of the one taken ahead, which is then not reached.
      if (ahead && ahead->begun) {
        j->cur = ahead;
        DetachAll(j);
      }
      break;
    }
  }
  for (int i = 0; i < j->nitems; i++)
    for (int w = 0; w < j->items[i].nwanted; w++)
      if (j->items[i].stopped[w]) Settle(sc->dirbuf, j->items[i].pid, j->items[i].wanted[w]);
}

}  // namespace

// Everything the tracer reads and writes for one batch, allocated before it is posted.
struct SecurebitsBatch::State {
  std::vector<SecurebitsRequest> reqs;
  std::vector<Item> items;
  std::vector<std::vector<int>> values;
  std::vector<std::vector<char>> stopped;
  Job job;
  TracerJob tracer_job;
  int post_error = 0;  // -errno: no tracer could be started
  bool joined = false;
  bool completed = false;  // joined and the tracer finished it (not killed first)
};

std::unique_ptr<SecurebitsBatch> SecurebitsBatch::Post(std::vector<SecurebitsRequest> reqs,
                                                       bool continue_on_refusal, int notify_fd) {
  std::unique_ptr<SecurebitsBatch> batch(new SecurebitsBatch());
  batch->state_ = std::make_unique<State>();
  State& s = *batch->state_;
  s.tracer_job.notify_fd = notify_fd;
  s.reqs = std::move(reqs);
  size_t n = s.reqs.size();
  s.items.resize(n);
  s.values.resize(n);
  s.stopped.resize(n);
  for (size_t i = 0; i < n; i++) {
    const SecurebitsRequest& req = s.reqs[i];
    Item& it = s.items[i];
    memset(&it, 0, sizeof it);
    snprintf(it.path, sizeof it.path, "/proc/%d/task", req.pid);
    s.values[i].assign(req.tids.size(), -1);
    s.stopped[i].assign(req.tids.size(), 0);
    it.pid = req.pid;
    it.delay_ms = req.test_delay_ms;
    it.wanted = req.tids.data();
    it.nwanted = static_cast<int>(req.tids.size());
    it.values = s.values[i].data();
    it.stopped = s.stopped[i].data();
  }
  memset(&s.job, 0, sizeof s.job);
  s.job.items = s.items.data();
  s.job.nitems = int(n);
  s.job.continue_on_refusal = continue_on_refusal;
  s.job.sigchld_mask = 1UL << (SIGCHLD - 1);
  s.tracer_job.run = RunJob;
  s.tracer_job.arg = &s.job;
  if (n == 0) {
    s.joined = s.completed = true;  // nothing to do
    return batch;
  }
  s.post_error = TracerPost(&s.tracer_job);
  if (s.post_error < 0) s.joined = true;
  return batch;
}

SecurebitsBatch::~SecurebitsBatch() {
  if (state_ && !state_->joined) TracerWait(&state_->tracer_job);
}

bool SecurebitsBatch::Ended(long spin_us) {
  State& s = *state_;
  if (!s.joined) {
    int r = spin_us > 0 ? TracerSpin(&s.tracer_job, spin_us) : TracerPoll(&s.tracer_job);
    if (r == 0) return false;
    s.completed = r > 0;
    s.joined = true;
  }
  return true;
}

void SecurebitsBatch::Finish(std::vector<SecurebitsResult>* results) {
  State& s = *state_;
  if (!s.joined) {
    s.completed = TracerWait(&s.tracer_job);
    s.joined = true;
  }
  results->clear();
  results->resize(s.reqs.size());
  if (s.reqs.empty()) return;
  if (s.post_error < 0) {
    (*results)[0].done = true;
    (*results)[0].failure.Errno("clone", -s.post_error, s.reqs[0].pid, "starting the ptrace helper");
    return;
  }
  for (size_t i = 0; i < s.items.size(); i++) {
    const Item& it = s.items[i];
    SecurebitsResult& res = (*results)[i];
    if (!it.done) {
      if (s.completed) break;  // the batch stopped at an earlier failure
      res.done = true;
      res.failure.Errno("ptrace helper", EIO, it.pid, "the helper died");
      break;
    }
    res.done = true;
    res.values = s.values[i];
    if (it.fail_syscall) {
      res.failure.Errno(it.fail_syscall, it.fail_errno, it.fail_tid ? it.fail_tid : it.pid,
                        it.fail_detail ? it.fail_detail : "");
      res.values.assign(res.values.size(), -1);
    }
  }
}

bool ReadSecurebitsPtrace(const SecurebitsRequest& req, std::vector<int>* values, Failure* f) {
  std::vector<SecurebitsResult> results;
  SecurebitsBatch::Post({req}, false)->Finish(&results);
  if (results[0].failure.set) {
    *f = results[0].failure;
    return false;
  }
  *values = std::move(results[0].values);
  return true;
}

#else  // !__x86_64__

bool ReadSecurebitsPtrace(const SecurebitsRequest& req, std::vector<int>* values, Failure* f) {
  f->Coded("ERR_UNSUPPORTED_ARCH",
           "reading another task's securebits over ptrace: unsupported architecture", req.pid);
  return false;
}

struct SecurebitsBatch::State {
  std::vector<SecurebitsRequest> reqs;
  bool continue_on_refusal;
};

std::unique_ptr<SecurebitsBatch> SecurebitsBatch::Post(std::vector<SecurebitsRequest> reqs,
                                                       bool continue_on_refusal, int) {
  std::unique_ptr<SecurebitsBatch> batch(new SecurebitsBatch());
  batch->state_.reset(new State{std::move(reqs), continue_on_refusal});
  return batch;
}

SecurebitsBatch::~SecurebitsBatch() = default;
bool SecurebitsBatch::Ended() { return true; }

void SecurebitsBatch::Finish(std::vector<SecurebitsResult>* results) {
  const State& s = *state_;
  results->clear();
  results->resize(s.reqs.size());
  for (size_t i = 0; i < s.reqs.size(); i++) {
    (*results)[i].done = true;
    (*results)[i].values.assign(s.reqs[i].tids.size(), -1);
    ReadSecurebitsPtrace(s.reqs[i], nullptr, &(*results)[i].failure);
    if (!s.continue_on_refusal) break;
  }
}

#endif

namespace {

// readSecurebits(pid, tids?, options?): Promise<number[]>; tids default to [pid].
Napi::Value ReadSecurebitsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "readSecurebits(pid, tids?, options?): pid must be a number");
  auto req = std::make_shared<SecurebitsRequest>();
  req->pid = info[0].As<Napi::Number>().Int32Value();
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++)
      req->tids.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  } else {
    req->tids.push_back(req->pid);
  }
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Value d = info[2].As<Napi::Object>().Get("testDelayMs");
    if (d.IsNumber()) req->test_delay_ms = d.As<Napi::Number>().Int32Value();
  }
  if (req->pid <= 0) throw Napi::RangeError::New(env, "readSecurebits: pid must be positive");
  if (req->pid == getpid())
    throw Napi::Error::New(env, "readSecurebits: the calling process cannot trace itself; use readThreadCreds");
  auto values = std::make_shared<std::vector<int>>();
  return PromiseWorker::Start(
      env, [req, values](Failure* f) { ReadSecurebitsPtrace(*req, values.get(), f); },
      [values](Napi::Env env) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, values->size());
        for (size_t i = 0; i < values->size(); i++)
          out.Set(uint32_t(i), (*values)[i] < 0 ? env.Null() : Napi::Number::New(env, (*values)[i]));
        return out;
      });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readSecurebits", Napi::Function::New(env, ReadSecurebitsJs, "readSecurebits"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
