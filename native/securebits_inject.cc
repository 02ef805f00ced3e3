// Runs in the tracer (tracer.h): raw system calls only, each answering its result or -errno; no
// allocation, nothing of libc but memcpy/memset/memcmp/strlen.
//
// Each process in turn: every thread seized and stopped (a thread of it could otherwise run
// into the stub written for another), prctl(PR_GET_SECUREBITS) run in each wanted thread through
// the self-restoring stub of tracee_regs.h, every thread detached. A signal that comes for a
// thread meanwhile is never held back: its registers are put back first and it is delivered
// (then the thread is stopped again and the injection begun anew), so a tracer killed at any
// moment owes the task nothing.
#include "securebits_inject.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "raw_syscall.h"
#include "tracee_regs.h"
#include "tracer.h"

namespace crc {

const char kSeizeName[] = "ptrace(PTRACE_SEIZE)";

namespace {

constexpr int kMaxTracees = 4096;
constexpr int kMaxStopLoops = 64;
constexpr long kPage = 4096;

// Where stubs go: the zero padding after the end of the vDSO image, up to the end of its last
// page, cut into kStubBytes slots. No code runs there and nothing reads it; written over ptrace
// (/proc/PID/mem), the page becomes the task's own copy. Found in our own vDSO before the
// helper starts: every native process of this kernel maps the same image.
struct StubArea {
  bool ready = false;
  uintptr_t ours = 0;  // our vDSO's address
  size_t offset = 0;   // of the first slot, from the vDSO's start
  int slots = 0;
};
StubArea g_area;

struct Tracee {
  int tid;
  bool attached;
  bool exited;
  bool running;        // resumed by us and no stop seen since
  bool dirty;          // pointed at the stub and not put back: it runs the stub if let go
  bool group_stopped;  // stopped (SIGSTOP...) when we attached: stopped again at detach
  bool stuck;          // did not stop within WaitEvent's bound (uninterruptible sleep)
  int last_signal;     // the current stop is a signal-delivery-stop of this signal (else 0)
  unsigned set_going;  // Job::sleeps when it was last resumed or interrupted
  TraceeRegs saved;
};

struct Item {
  const SbItem* req;
  const int32_t* wanted;
  SbResult* res;
  int32_t* values;
  char path[32];  // /proc/PID/task
  Tracee* tracees;
  int ntracees;
  bool begun;  // its leader seized and interrupted ahead of its turn
  // The signals the process handles (its handlers are shared by its threads), read once every
  // thread is stopped (none can change them then); unknown: no signal for the stub.
  bool caught_known;
  uint64_t caught;
  char stopped[1];  // per wanted thread: group-stopped when attached (see Settle); ntids long
};

struct Job {
  Item* cur;
  unsigned long sigchld_mask;
  char* dirbuf;
  unsigned sleeps;  // rt_sigtimedwait calls so far (each may take a SIGCHLD of any tracee)
};

// t is resumed or interrupted: its next event comes with a SIGCHLD not taken yet.
void SetGoing(Job* j, Tracee* t) {
  t->running = true;
  t->set_going = j->sleeps;
}

struct Scratch {
  Tracee slots[2][kMaxTracees];
  char dirbuf[16384];
  unsigned char vdso[2 * kPage];  // the task's vDSO up to the last slot, as read
  unsigned char code[kStubBytes];
  // then the items
};
// The items follow, one per SbItem of the request at most.
static_assert(sizeof(Scratch) + (kTracerFrameBytes / sizeof(SbItem)) * (sizeof(Item) + 16) <= kTracerScratchBytes,
              "the tracer's scratch is too small");

void Fail(Job* j, const char* syscall, int err, int tid, const char* detail = nullptr) {
  SbResult* r = j->cur->res;
  if (r->err) return;  // keep the first failure
  r->syscall = syscall;
  r->err = err;
  r->tid = tid;
  r->detail = detail;
}

long Ptrace(long req, int tid, long addr, long data) { return Sys(SYS_ptrace, req, tid, addr, data); }

char* PutInt(char* p, int v);
char* PutStr(char* p, const char* s);

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

enum class Ev { kStop, kExited, kError, kTimeout };

// Reaps the current process's threads other than its leader that have exited (their stops, if
// any, are left to be waited for): a traced thread that dies stays a zombie until its tracer
// reaps it, and the leader's own exit waits for theirs.
void ReapDeadThreads(Job* j) {
  Item* it = j->cur;
  for (int i = 0; i < it->ntracees; i++) {
    Tracee* o = &it->tracees[i];
    if (!o->attached || o->exited || o->tid == it->req->pid) continue;  // (a detached one: not ours)
    siginfo_t si;
    memset(&si, 0, sizeof si);
    long r;
    while ((r = Sys(SYS_waitid, P_PID, o->tid, &si, WEXITED | __WALL | WNOHANG, 0)) == -EINTR) {
    }
    if (r == -ECHILD || (r == 0 && si.si_pid != 0)) {
      o->exited = true;
      o->running = false;
    }
  }
}

// Waits for the next ptrace event of t. Between looks (wait4, WNOHANG) the tracer sleeps in
// rt_sigtimedwait for SIGCHLD (blocked, so it stays pending), which the kernel sends the tracer
// on every stop and exit of a tracee: no event can slip between a look and the sleep. A
// tracee's exit is reaped here: that hands the task on to its real parent (a child of ours
// stays a zombie for libuv to reap).
Ev WaitEvent(Job* j, Tracee* t, int* status) {
  long long deadline = 0;
  // A process of one thread, whose event has most often not come yet: the sleep first, saving
  // the look that would find nothing (and the clock read). Only while no sleep since t was set
  // going can have taken the SIGCHLD of its event (one taken for another tracee, the next
  // process's leader interrupted ahead, would leave this sleep the whole bound). A SIGCHLD
  // pending from an event already seen ends it at once; the look then finds nothing and the
  // bound starts from there. (With other threads, a dead one may hold the leader's exit: they
  // are reaped first, below.)
  if (j->cur->ntracees == 1 && t->set_going == j->sleeps) {
    struct timespec ts = {10, 0};
    j->sleeps++;
    if (Sys(SYS_rt_sigtimedwait, &j->sigchld_mask, 0, &ts, sizeof j->sigchld_mask) == -EAGAIN)
      deadline = 1;  // 10 s without an event: the look below is the last
  }
  for (;;) {
    long r = Sys(SYS_wait4, t->tid, status, __WALL | WNOHANG, 0);
    if (r == -EINTR) continue;
    if (r == -ECHILD) {  // reaped elsewhere: it is gone
      t->exited = true;
      t->running = false;
      return Ev::kExited;
    }
    if (r < 0) {
      Fail(j, "wait4", int(-r), t->tid);
      return Ev::kError;
    }
    if (r == 0) {
      // A leader's exit is reported only once its other threads are reaped: those of them that
      // died (killed with it) are reaped meanwhile, their stops left pending.
      if (t->tid == j->cur->req->pid) ReapDeadThreads(j);
      long long now = NowNs();
      if (deadline == 0) {
        deadline = now + 10 * 1000000000LL;  // 10 s: a task that never stops (D state)
      } else if (now >= deadline) {
        Fail(j, "wait4", ETIMEDOUT, t->tid, "the task did not stop for ptrace");
        t->stuck = true;
        return Ev::kTimeout;
      }
      long long left = deadline - now;
      struct timespec ts = {time_t(left / 1000000000LL), long(left % 1000000000LL)};
      j->sleeps++;
      Sys(SYS_rt_sigtimedwait, &j->sigchld_mask, 0, &ts, sizeof j->sigchld_mask);
      continue;
    }
    t->running = false;
    if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
      t->exited = true;
      return Ev::kExited;
    }
    // Event stops carry an event in bits 16..23; syscall stops report SIGTRAP|0x80
    // (PTRACE_O_TRACESYSGOOD); the rest are signal-delivery-stops.
    bool signal_stop = (*status >> 16) == 0 && WSTOPSIG(*status) != (SIGTRAP | 0x80);
    t->last_signal = signal_stop ? WSTOPSIG(*status) : 0;
    return Ev::kStop;
  }
}

bool IsEventStop(int status) { return (status >> 16) == PTRACE_EVENT_STOP; }
bool IsSyscallStop(int status) { return (status >> 16) == 0 && WSTOPSIG(status) == (SIGTRAP | 0x80); }

// Lets t take the signal it stopped for, and waits for its next stop (the interrupt still
// pending brings it back). Returns as WaitEvent.
Ev DeliverAndStop(Job* j, Tracee* t, int* status) {
  if (long r = Ptrace(PTRACE_CONT, t->tid, 0, t->last_signal)) {
    Fail(j, "ptrace(PTRACE_CONT)", int(-r), t->tid);
    return Ev::kError;
  }
  SetGoing(j, t);
  t->last_signal = 0;
  Ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);  // ESRCH: it is exiting, which the wait sees
  return WaitEvent(j, t, status);
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
      Fail(j, kSeizeName, E2BIG, it->req->pid, "too many threads");
      return false;
    }
    if (long r = Ptrace(PTRACE_SEIZE, tids[i], 0, PTRACE_O_TRACESYSGOOD)) {
      if (r == -ESRCH) continue;  // that thread just exited
      Fail(j, kSeizeName, int(-r), tids[i]);
      return false;
    }
    Tracee* t = &it->tracees[it->ntracees++];
    memset(t, 0, sizeof *t);
    t->tid = tids[i];
    t->attached = true;
    SetGoing(j, t);
    ++*added;
    if (long r = Ptrace(PTRACE_INTERRUPT, t->tid, 0, 0)) {
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
  int pid = it->req->pid;
  it->begun = true;
  SeizeNew(j, &pid, 1, &added);
}

// The last processes' /proc files, kept open between jobs: a process read again (a watch, a
// benchmark) costs a read of each, not an open and a close. /proc/PID/mem holds the memory the
// process had when it was opened, which after an exec may be another process's (a vfork
// parent's) or no one's: a kept one is used only once shown to reach the task's memory
// (ReachesTask), else opened anew. The leader's stat holds its task: gone, reading it fails
// (ESRCH), and it is opened anew.
struct ProcEntry {
  bool used;
  int pid;
  int mem;  // -1: not open
  uintptr_t base;  // the vDSO's address, found with mem
  int stat;  // -1: not open
};
constexpr int kProcCache = 16;
ProcEntry g_procs[kProcCache];  // the helper's own copy (a fork's), empty at its start
int g_procs_next = 0;

void CloseFd(int* fd) {
  if (*fd >= 0) Sys(SYS_close, *fd);
  *fd = -1;
}

// The entry of pid; a new one (the oldest's descriptors closed) if there is none.
ProcEntry* Entry(int pid) {
  for (auto& e : g_procs)
    if (e.used && e.pid == pid) return &e;
  ProcEntry* e = &g_procs[g_procs_next];
  g_procs_next = (g_procs_next + 1) % kProcCache;
  if (e->used) {
    CloseFd(&e->mem);
    CloseFd(&e->stat);
  }
  *e = {true, pid, -1, 0, -1};
  return e;
}

// From the leader's /proc/PID/task/PID/stat: the process's thread count and the signals it
// handles (sigcatch: the first word, signals 1-64). One read, the cheapest that has both.
bool ReadLeaderStat(Job* j, int* threads, uint64_t* caught) {
  int pid = j->cur->req->pid;
  ProcEntry* e = Entry(pid);
  char* buf = j->dirbuf;
  long n = 0;
  for (bool fresh = e->stat < 0;; fresh = true) {
    if (fresh) {
      CloseFd(&e->stat);
      char path[64];
      *PutStr(PutInt(PutStr(PutStr(path, j->cur->path), "/"), pid), "/stat") = 0;
      int fd = int(Sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
      if (fd < 0) return false;
      e->stat = fd;
    }
    n = Sys(SYS_pread64, e->stat, buf, sizeof(Scratch::dirbuf), 0);
    if (n > 0 || fresh) break;
  }
  if (n <= 0 || n == long(sizeof(Scratch::dirbuf))) return false;
  long i = n - 1;
  while (i > 0 && buf[i] != ')') i--;  // comm may hold spaces and parentheses: the last ')'
  if (i == 0) return false;
  // Fields from the third (the state) on, space-separated: 20 is num_threads, 34 sigcatch.
  int field = 2;
  uint64_t v = 0;
  bool in = false;
  for (i++; i <= n; i++) {
    char c = i < n ? buf[i] : ' ';
    if (c == ' ' || c == '\n') {
      if (in && field == 20) *threads = int(v);
      if (in && field == 34) {
        *caught = v;
        return true;
      }
      in = false;
      continue;
    }
    if (!in) {
      in = true;
      field++;
      v = 0;
    }
    v = c >= '0' && c <= '9' ? v * 10 + uint64_t(c - '0') : 0;
  }
  return false;
}

// Seizes and interrupts every thread, repeating the listing until no new thread appears (a
// thread can clone until it is stopped). The leader goes first (AttachLeader), without a
// listing: once it and every thread we know of are stopped, a thread count (the leader's stat)
// equal to theirs means there is no other thread, and none can start.
bool AttachAll(Job* j) {
  int tids[kMaxTracees];
  Item* it = j->cur;
  if (!it->begun) AttachLeader(j);
  if (it->res->err) return false;
  for (int round = 0; round < 64; round++) {
    int added = 0;
    if (round == 0) {
      added = it->ntracees;
      if (added == 0) continue;  // the leader is gone: the listing says whether the process is
    } else {
      int n = ListThreads(j, tids, kMaxTracees);
      if (n < 0) {
        Fail(j, "open /proc/PID/task", n == -ENOENT ? ESRCH : -n, it->req->pid, "the process is gone");
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
        // Took a signal before the interrupt's trap: it gets it, then stops for the trap.
        while (ev == Ev::kStop && t->last_signal) ev = DeliverAndStop(j, t, &status);
        if (ev == Ev::kError || ev == Ev::kTimeout) return false;
        // A group-stop reports its stop signal rather than the interrupt's SIGTRAP: the task
        // was stopped (SIGSTOP and the like) before we came.
        if (ev == Ev::kStop && IsEventStop(status) && WSTOPSIG(status) != SIGTRAP) t->group_stopped = true;
      }
      any_exited |= t->exited;
    }
    int threads = 0;
    if (!any_exited && ReadLeaderStat(j, &threads, &it->caught) && threads == it->ntracees) {
      it->caught_known = true;
      return true;
    }
  }
  return true;
}

// The task's stub area: its vDSO's address (auxv), checked to be the image we measured, and the
// slot picked, one whose bytes are as the image has them (a slot left written by a tracer that
// was killed may still be needed by a thread: it is never reused).
struct Place {
  int mem = -1;  // /proc/PID/mem (the cache's: not closed here)
  uintptr_t slot = 0;
  const unsigned char* pristine = nullptr;  // the slot's bytes in our own vDSO
};

// Opens the task's /proc/PID/mem and finds its vDSO (from auxv). 0, or -errno.
int OpenMem(const char* task_path, char* buf, int* fd, uintptr_t* base) {
  char path[40];
  char* e = path;
  for (const char* s = task_path; *s; s++) *e++ = *s;  // /proc/PID/task
  e -= 4;
  memcpy(e, "auxv", 5);
  int a = int(Sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (a < 0) return a;
  long n = Sys(SYS_read, a, buf, 4096);
  Sys(SYS_close, a);
  *base = 0;
  for (long off = 0; off + 16 <= n; off += 16) {
    uint64_t kv[2];
    memcpy(kv, buf + off, sizeof kv);
    if (kv[0] == AT_SYSINFO_EHDR) *base = kv[1];
  }
  memcpy(e, "mem", 4);
  *fd = int(Sys(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC));
  return *fd < 0 ? *fd : 0;
}

// Whether `mem` (a kept /proc/PID/mem) reaches the memory task `tid` runs in now. A descriptor
// opened before an exec does not: one opened while the task was a vfork child that has since
// exec'd holds its parent's memory, vDSO and all. `seen` is what the descriptor showed from
// `base` (the vDSO) on; `at` is a free slot in it. First the task's own bytes (read through
// its memory, not the descriptor's) must show the same vDSO header and slot word; then a word
// written into the task (stopped, its own copy of the page) must read back through the
// descriptor. Nothing is written but into the task we hold, and its word is put back.
bool ReachesTask(int mem, int tid, uintptr_t base, uintptr_t at, const unsigned char* seen) {
  unsigned char header[sizeof(Elf64_Ehdr)];
  uint64_t word = 0;
  struct iovec local[2] = {{header, sizeof header}, {&word, sizeof word}};
  struct iovec remote[2] = {{reinterpret_cast<void*>(base), sizeof header}, {reinterpret_cast<void*>(at), sizeof word}};
  // (Its sixth argument, flags, is 0.)
  if (Sys(SYS_process_vm_readv, tid, local, 2, remote, 2) != long(sizeof header + sizeof word)) return false;
  uint64_t was;
  memcpy(&was, seen + (at - base), sizeof was);
  if (memcmp(header, seen, sizeof header) != 0 || word != was) return false;
  if (Ptrace(PTRACE_POKEDATA, tid, long(at), long(~was)) != 0) return false;
  uint64_t back = was;
  bool same = Sys(SYS_pread64, mem, &back, sizeof back, at) == long(sizeof back) && back == ~was;
  // Should this fail, the slot no longer reads as free and is not used again: no harm.
  Ptrace(PTRACE_POKEDATA, tid, long(at), long(was));
  return same;
}

bool OpenPlace(Job* j, char* buf, Place* p) {
  int pid = j->cur->req->pid;
  const char* what = "find a place for the injection stub";
  if (!g_area.ready) {
    Fail(j, what, kNoStubErrno, pid, "no room after the vDSO image");
    return false;
  }
  size_t span = g_area.offset + size_t(g_area.slots) * kStubBytes;  // header to the last slot
  ProcEntry* m = Entry(pid);
  for (bool fresh = m->mem < 0;; fresh = true) {
    if (fresh) {
      CloseFd(&m->mem);
      if (int r = OpenMem(j->cur->path, buf, &m->mem, &m->base)) {
        m->mem = -1;
        Fail(j, "open /proc/PID/mem", r == -ENOENT ? ESRCH : -r, pid);
        return false;
      }
    }
    // The same image as ours: the same ELF header, and the area as ours has it.
    if (m->base == 0 || Sys(SYS_pread64, m->mem, buf, span, m->base) != long(span) ||
        memcmp(buf, reinterpret_cast<const void*>(g_area.ours), sizeof(Elf64_Ehdr)) != 0) {
      if (!fresh) continue;
      Fail(j, what, kNoStubErrno, pid, "the task's vDSO is not the kernel's");
      return false;
    }
    // The first slot whose bytes are as the image has them (a stub there, left by a tracer that
    // was killed, may still be needed by a thread: never reused). A kept descriptor must also
    // still reach the task's memory (opened now, with the task stopped, it does).
    p->slot = 0;
    for (int s = 0; s < g_area.slots && p->slot == 0; s++) {
      size_t off = g_area.offset + size_t(s) * kStubBytes;
      const unsigned char* ours = reinterpret_cast<const unsigned char*>(g_area.ours + off);
      if (memcmp(buf + off, ours, kStubBytes) != 0) continue;
      p->slot = m->base + off;
      p->pristine = ours;
    }
    if (p->slot != 0 && !fresh && !ReachesTask(m->mem, pid, m->base, p->slot, reinterpret_cast<unsigned char*>(buf)))
      continue;
    if (p->slot == 0) {
      if (!fresh) continue;
      Fail(j, what, EBUSY, pid, "every slot holds a stub an earlier tracer left");
      return false;
    }
    p->mem = m->mem;
    return true;
  }
}

// Writes code at the slot: one write through /proc/PID/mem (PTRACE_POKEDATA where that is
// refused). No thread runs the slot while it is written.
long WriteSlot(Place* p, int tid, const unsigned char* code) {
  long w = Sys(SYS_pwrite64, p->mem, code, kStubBytes, p->slot);
  if (w == long(kStubBytes)) return 0;
  for (size_t off = 0; off < kStubBytes; off += sizeof(long)) {
    long word;
    memcpy(&word, code + off, sizeof word);
    if (long r = Ptrace(PTRACE_POKEDATA, tid, long(p->slot + off), word)) return r;
  }
  return 0;
}

// A signal t neither blocks nor handles whose default action is to ignore it, for the stub to
// send itself (tracee_regs.h); 0 if there is none (or what it handles or blocks is unknown).
// The mask is the one the task runs with once let go (PTRACE_GETSIGMASK gives the saved one of
// a call that swapped it).
int StubSignal(Job* j, Tracee* t) {
  uint64_t blocked = 0;
  if (!j->cur->caught_known ||
      Ptrace(PTRACE_GETSIGMASK, t->tid, sizeof blocked, reinterpret_cast<long>(&blocked)) != 0)
    return 0;
  uint64_t busy = blocked | j->cur->caught;
  for (int sig : {SIGURG, SIGWINCH, SIGCHLD})
    if (!(busy & (uint64_t(1) << (sig - 1)))) return sig;
  return 0;
}

// Writes the stub for t->saved at the slot and sets t's registers to `regs` (the stub's entry).
bool Arm(Job* j, Place* p, Tracee* t, int sig, unsigned char* code, const TraceeRegs& regs) {
  StubBuild(t->saved, p->slot, sig, code);
  if (long r = WriteSlot(p, t->tid, code)) {
    Fail(j, "write the injection stub", int(-r), t->tid);
    return false;
  }
  if (long r = RegsSet(t->tid, regs)) {
    Fail(j, "ptrace(PTRACE_SETREGS)", int(-r), t->tid);
    return false;
  }
  t->dirty = true;
  return true;
}

// Runs prctl(PR_GET_SECUREBITS) in t through the stub; t is stopped and put back as it was.
bool Inject(Job* j, Place* p, Tracee* t, unsigned char* code, int* value) {
  bool no_signal = false;  // our signal came late (blocked after all): the syscall stops then
  for (int attempt = 0; attempt < kMaxStopLoops; attempt++) {
    if (long r = RegsGet(t->tid, &t->saved)) {
      Fail(j, "ptrace(PTRACE_GETREGS)", int(-r), t->tid, r == -ESRCH ? "the process exited during checkpoint" : nullptr);
      return false;
    }
    if (!RegsNative(t->saved)) {
      Fail(j, "ptrace(PTRACE_GETREGS)", kNoStubErrno, t->tid, "a task of another instruction set");
      return false;
    }
    const char* unsafe = nullptr;
    if (long r = RegsStubRefusal(t->tid, &unsafe)) {
      Fail(j, "ptrace(PTRACE_GETREGSET)", int(-r), t->tid);
      return false;
    }
    if (unsafe) {
      Fail(j, "ptrace(PTRACE_GETREGSET)", kNoStubErrno, t->tid, unsafe);
      return false;
    }
    int sig = no_signal || RegsInMaskSwappingCall(t->saved) ? 0 : StubSignal(j, t);
    // A syscall ahead (tracee_regs.h): the task goes to its entry stop first, untouched.
    bool ahead = RegsSyscallAhead(t->tid, t->saved);
    TraceeRegs regs;
    RegsPointAtStub(t->saved, p->slot, &regs);
    if (!ahead && !Arm(j, p, t, sig, code, regs)) return false;
    bool entered = false;
    long result = 0;
    bool got = false;
    for (int loop = 0; loop < kMaxStopLoops && !got; loop++) {
      // With a signal, the stop after the call is its delivery; without, the call's syscall stops.
      if (long r = Ptrace(sig && !ahead ? PTRACE_CONT : PTRACE_SYSCALL, t->tid, 0, 0)) {
        Fail(j, "ptrace(PTRACE_CONT)", int(-r), t->tid);
        return false;
      }
      SetGoing(j, t);
      int status = 0;
      Ev ev = WaitEvent(j, t, &status);
      if (ev == Ev::kExited) {
        Fail(j, "ptrace(PTRACE_CONT)", ESRCH, t->tid, "the process exited during checkpoint");
        return false;
      }
      if (ev != Ev::kStop) return false;
      TraceeRegs now;
      if (t->last_signal || IsSyscallStop(status)) {
        if (long r = RegsGet(t->tid, &now)) {
          Fail(j, "ptrace(PTRACE_GETREGS)", int(-r), t->tid);
          return false;
        }
      }
      if (t->last_signal) {
        if (sig && RegsAtStubSignal(now, p->slot)) {
          // The call is made. Our signal is taken from the task here; a signal of its own that
          // came first rides on the detach (ours, still pending then, is discarded untraced).
          result = RegsStubResult(now);
          if (t->last_signal == sig) t->last_signal = 0;
          got = true;
          break;
        }
        // A signal before the stub made its call: put the registers back, let the task take it
        // as if we had never been there, stop it again and begin anew.
        if (sig && t->last_signal == sig) no_signal = true;
        if (long r = RegsSet(t->tid, t->saved)) {
          Fail(j, "ptrace(PTRACE_SETREGS) restoring registers", int(-r), t->tid);
          return false;
        }
        t->dirty = false;
        Ev again = DeliverAndStop(j, t, &status);
        while (again == Ev::kStop && t->last_signal) again = DeliverAndStop(j, t, &status);
        if (again == Ev::kExited) Fail(j, "ptrace(PTRACE_CONT)", ESRCH, t->tid, "the process exited during checkpoint");
        if (again != Ev::kStop) return false;
        break;  // anew
      }
      if (!IsSyscallStop(status)) continue;  // an interrupt or a group-stop: on
      if (ahead) {  // the task's own syscall at its entry: made the stub's, whose exit comes next
        if (!RegsTakeOverSyscall(now, p->slot, &t->saved, &regs)) {
          Fail(j, "ptrace(PTRACE_SYSCALL)", EIO, t->tid, "a syscall stop outside the stub");
          return false;
        }
        if (!Arm(j, p, t, sig, code, regs)) return false;
        ahead = false;
        entered = true;
        continue;
      }
      if (!RegsAtStubSyscall(now, p->slot)) {
        Fail(j, "ptrace(PTRACE_SYSCALL)", EIO, t->tid, "a syscall stop outside the stub");
        return false;
      }
      if (!entered) {
        entered = true;
        continue;
      }
      result = RegsSyscallResult(now);  // the call's exit stop
      got = true;
    }
    if (got) {
      // The registers as they were. The kernel's own restart of an interrupted call happens as
      // the task is let go (a detach wakes it into its signal check, where the restart is done).
      if (long e = RegsSet(t->tid, t->saved)) {
        Fail(j, "ptrace(PTRACE_SETREGS) restoring registers", int(-e), t->tid);
        return false;
      }
      t->dirty = false;
      if (result < 0) {
        Fail(j, "prctl(PR_GET_SECUREBITS) in the task", int(-result), t->tid);
        return false;
      }
      *value = int(result);
      return true;
    }
    if (t->dirty) {
      Fail(j, "ptrace(PTRACE_CONT)", EIO, t->tid, "the injected syscall never completed");
      return false;
    }
  }
  Fail(j, "ptrace(PTRACE_CONT)", EIO, t->tid, "signals kept coming");
  return false;
}

// Waits for the exit of t, which was seen dead (a detach answered ESRCH), and reaps it: a traced
// task's exit is reported to its tracer alone, and its real parent hears of it only once we
// have reaped it. False if it does not end in time (WaitEvent's bound).
bool ReapDead(Job* j, Tracee* t) {
  for (int loop = 0; loop < kMaxStopLoops; loop++) {
    int status = 0;
    Ev ev = WaitEvent(j, t, &status);
    if (ev == Ev::kExited) return true;
    if (ev != Ev::kStop) return false;
    // A stop after all (it was not dead, only not yet in its stop): let it go.
    long r = Ptrace(PTRACE_DETACH, t->tid, 0, t->last_signal);
    if (r == 0) return true;
    if (r != -ESRCH) return false;
  }
  return false;
}

// Lets every thread go. A thread still pointed at the stub (a failure midway) runs it and puts
// itself back; a signal it stopped for rides on the detach. A thread found dead is reaped (the
// other threads before the leader, whose exit waits for theirs). One that cannot be let go (it
// never stops for the detach, or the detach fails) ends the helper once it has answered
// (TracerExitAfterAnswer): a tracee is never left traced with a trap pending.
void DetachAll(Job* j) {
  Item* it = j->cur;
  for (int leader = 0; leader < 2; leader++) {
    for (int i = 0; i < it->ntracees; i++) {
      Tracee* t = &it->tracees[i];
      if ((t->tid == it->req->pid) != (leader == 1) || !t->attached) continue;
      if (t->exited) {  // reaped by WaitEvent
        t->attached = false;
        continue;
      }
      if (t->running) {  // resumed by us when the failure happened: a detach needs a stop
        if (!t->stuck) {
          Ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
          int status = 0;
          Ev ev = WaitEvent(j, t, &status);
          if (ev == Ev::kExited) {
            t->attached = false;
            continue;
          }
          if (ev == Ev::kStop) t->running = false;
        }
        if (t->running) {  // it did not stop (once is enough to wait for that)
          TracerExitAfterAnswer();
          continue;
        }
      }
      long r = Ptrace(PTRACE_DETACH, t->tid, 0, t->last_signal);
      if (r == -ESRCH && !ReapDead(j, t)) {
        TracerExitAfterAnswer();
        continue;
      }
      if (r != 0 && r != -ESRCH) {
        Fail(j, "ptrace(PTRACE_DETACH)", int(-r), t->tid);
        TracerExitAfterAnswer();
        continue;
      }
      t->attached = false;
    }
  }
}

// One process: attach every thread, inject into the wanted ones, put everything back, detach.
void RunOne(Job* j, Scratch* sc) {
  Item* it = j->cur;
  Place place;
  if (AttachAll(j) && OpenPlace(j, reinterpret_cast<char*>(sc->vdso), &place)) {
    if (it->req->delay_ms > 0) SleepMicros(long(it->req->delay_ms) * 1000);
    for (int w = 0; w < it->req->ntids; w++) {
      Tracee* t = Find(j, it->wanted[w]);
      it->values[w] = -1;
      if (!t || t->exited) continue;
      // An exit during the test's delay (the task was killed) shows up here.
      siginfo_t si;
      memset(&si, 0, sizeof si);
      // (DetachAll reaps it, after its other threads.)
      if (it->req->delay_ms > 0 &&
          Sys(SYS_waitid, P_PID, t->tid, &si, WEXITED | __WALL | WNOHANG | WNOWAIT, 0) == 0 && si.si_pid != 0) {
        Fail(j, "ptrace", ESRCH, t->tid, "the process exited during checkpoint");
        break;
      }
      int value = 0;
      if (!Inject(j, &place, t, sc->code, &value)) break;
      it->values[w] = value;
      it->stopped[w] = t->group_stopped;
    }
  }
  DetachAll(j);
  if (place.mem >= 0) {
    // The slot as it was, unless a thread may still run it.
    bool dirty = false;
    for (int i = 0; i < it->ntracees; i++) dirty |= it->tracees[i].dirty && !it->tracees[i].exited;
    if (!dirty && place.slot) Sys(SYS_pwrite64, place.mem, place.pristine, kStubBytes, place.slot);
  }
}

bool IsRefusal(const SbResult* r) {
  return (r->syscall == kSeizeName && (r->err == EPERM || r->err == EACCES)) || r->err == kNoStubErrno;
}

char* PutInt(char* p, int v) {
  char digits[12];
  int n = 0;
  do digits[n++] = char('0' + v % 10);
  while ((v /= 10) > 0);
  while (n) *p++ = digits[--n];
  return p;
}

char* PutStr(char* p, const char* s) {
  while (*s) *p++ = *s++;
  return p;
}

// The state letter of a thread (from /proc/PID/task/TID/stat), or 0 if it cannot be read.
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
// the kernel to get back into its group-stop, and the caller, told we are done, may look at
// once. Bounded (40 ms) for a SIGCONT that comes meanwhile.
void Settle(char* buf, int pid, int tid) {
  long long deadline = NowNs() + 40 * 1000000LL;
  for (int tries = 0;; tries++) {
    char st = ThreadState(buf, pid, tid);
    if (st == 0 || st == 'Z' || st == 'X' || st == 't' || st == 'T') return;
    if (NowNs() >= deadline) return;
    if (tries < 8)
      Sys(SYS_sched_yield);
    else
      SleepMicros(20);
  }
}

size_t Align8(size_t n) { return (n + 7) & ~size_t(7); }

}  // namespace

bool SecurebitsStubPrepare() {
  if (g_area.ready) return true;
  if (!RegsSupported()) return false;
  uintptr_t base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) return false;
  Elf64_Ehdr eh;
  memcpy(&eh, reinterpret_cast<const void*>(base), sizeof eh);
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return false;
  // The image ends with its section headers or its last segment's bytes, whichever is later.
  size_t end = size_t(eh.e_shoff) + size_t(eh.e_shnum) * eh.e_shentsize;
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    memcpy(&ph, reinterpret_cast<const char*>(base) + eh.e_phoff + size_t(i) * eh.e_phentsize, sizeof ph);
    if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > end) end = ph.p_offset + ph.p_filesz;
  }
  size_t first = (end + 15) & ~size_t(15);
  size_t limit = (end + kPage - 1) & ~size_t(kPage - 1);
  int slots = first < limit ? int((limit - first) / kStubBytes) : 0;
  if (first + size_t(slots) * kStubBytes > 2 * kPage) return false;  // (a larger vDSO than any)
  // Only zeros: padding, not something of the image.
  const unsigned char* area = reinterpret_cast<const unsigned char*>(base) + first;
  for (size_t i = 0; i < size_t(slots) * kStubBytes; i++)
    if (area[i] != 0) return false;
  if (slots == 0) return false;
  g_area.ours = base;
  g_area.offset = first;
  g_area.slots = slots;
  g_area.ready = true;
  return true;
}

size_t SecurebitsServe(const char* request, size_t len, char* out, char* scratch) {
  Scratch* sc = reinterpret_cast<Scratch*>(scratch);
  SbRequest head;
  memcpy(&head, request, sizeof head);
  // Items in the scratch after the fixed part; answers written in place in `out`.
  char* items_mem = scratch + Align8(sizeof(Scratch));
  Item** items = reinterpret_cast<Item**>(items_mem);
  char* next = items_mem + Align8(sizeof(Item*) * size_t(head.nitems));
  const char* in = request + sizeof head;
  char* o = out;
  for (int i = 0; i < head.nitems; i++) {
    const SbItem* req = reinterpret_cast<const SbItem*>(in);
    in += sizeof(SbItem) + sizeof(int32_t) * size_t(req->ntids);
    Item* it = reinterpret_cast<Item*>(next);
    next += Align8(sizeof(Item) + size_t(req->ntids));
    memset(it, 0, sizeof(Item) + size_t(req->ntids));
    it->req = req;
    it->wanted = reinterpret_cast<const int32_t*>(req + 1);
    it->res = reinterpret_cast<SbResult*>(o);
    memset(it->res, 0, sizeof(SbResult));
    it->res->ntids = req->ntids;
    it->values = reinterpret_cast<int32_t*>(it->res + 1);
    for (int w = 0; w < req->ntids; w++) it->values[w] = -1;
    o += sizeof(SbResult) + Align8(sizeof(int32_t) * size_t(req->ntids));
    char* p = PutInt(PutStr(it->path, "/proc/"), req->pid);
    memcpy(p, "/task", 6);
    items[i] = it;
  }
  (void)len;
  Job job;
  job.sigchld_mask = 1UL << (SIGCHLD - 1);
  job.dirbuf = sc->dirbuf;
  job.sleeps = 0;
  // The next process's leader is interrupted while this one is worked on, so that its stop
  // overlaps with our work here; only that one runs ahead: at most two processes are held.
  for (int i = 0; i < head.nitems; i++) {
    Item* it = items[i];
    it->tracees = sc->slots[i % 2];
    Item* ahead = i + 1 < head.nitems ? items[i + 1] : nullptr;
    if (ahead) ahead->tracees = sc->slots[(i + 1) % 2];
    job.cur = it;
    if (!it->begun) AttachLeader(&job);
    if (ahead && ahead->req->pid != it->req->pid && !TracerTermPending()) {
      job.cur = ahead;
      AttachLeader(&job);
    }
    job.cur = it;
    RunOne(&job, sc);
    it->res->done = 1;
    bool stop = it->res->err && !(head.continue_on_refusal && IsRefusal(it->res));
    if (stop || (ahead && TracerTermPending())) {  // let go of the one taken ahead, which is not reached
      if (ahead && ahead->begun) {
        job.cur = ahead;
        DetachAll(&job);
        memset(ahead->res, 0, sizeof(SbResult));
        ahead->res->ntids = ahead->req->ntids;
      }
      break;
    }
  }
  for (int i = 0; i < head.nitems; i++)
    for (int w = 0; w < items[i]->req->ntids; w++)
      if (items[i]->stopped[w]) Settle(sc->dirbuf, items[i]->req->pid, items[i]->wanted[w]);
  return size_t(o - out);
}

}  // namespace crc
