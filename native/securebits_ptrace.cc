#include "securebits_ptrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>

#include "registry.h"

namespace crc {

int RunInVmChild(int (*fn)(void*), void* arg) {
  constexpr size_t kStack = 256 * 1024;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
  if (stack == MAP_FAILED) return -errno;
  struct Trampoline {
    int (*fn)(void*);
    void* arg;
    static int Run(void* p) {
      // Node's signal handlers were copied into the child; none of them may run here.
      sigset_t all;
      sigfillset(&all);
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, sizeof(long));
      auto* t = static_cast<Trampoline*>(p);
      syscall(SYS_exit, t->fn(t->arg) & 0xff);  // raw exit: no atexit handlers, no flushing
      return 0;
    }
  } t{fn, arg};
  pid_t child = clone(&Trampoline::Run, static_cast<char*>(stack) + kStack,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &t);
  int result;
  if (child < 0) {
    result = -errno;
  } else {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    result = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  }
  munmap(stack, kStack);
  return result;
}

#if defined(__x86_64__)
namespace {

constexpr int kMaxTracees = 4096;
constexpr int kMaxStopLoops = 64;

struct Tracee {
  int tid;
  bool attached;
  bool exited;
  // Resumed by us and no stop seen since: must be interrupted before it can be restored.
  bool running;
  bool dirty;  // code word and/or registers replaced: restore before detaching
  bool last_stop_is_signal;  // the current stop is a signal-delivery-stop (detach may inject)
  int npending;              // signals we took from the task and owe it back
  int pending[8];
  uintptr_t addr;
  unsigned long code;
  struct user_regs_struct saved;
};

// Everything the child touches lives here, allocated before the clone.
struct Job {
  int pid;
  bool caller_is_parent;  // the task is our own child: its exit status belongs to libuv
  int delay_ms;
  int ntracees;
  int capacity;  // of tracees: sized to the process, since fresh pages cost a fault each
  Tracee* tracees;
  const int* wanted;
  int nwanted;
  int* values;
  char dirbuf[16384];
  char path[64];
  // failure
  const char* fail_syscall;
  int fail_errno;
  int fail_tid;
  const char* fail_detail;
};

void Fail(Job* j, const char* syscall, int err, int tid, const char* detail = nullptr) {
  if (j->fail_syscall) return;  // keep the first failure
  j->fail_syscall = syscall;
  j->fail_errno = err;
  j->fail_tid = tid;
  j->fail_detail = detail;
}

long Ptrace(long req, int tid, void* addr, void* data) {
  return syscall(SYS_ptrace, req, tid, addr, data);
}

void SleepMicros(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

enum class Ev { kStop, kExited, kError, kTimeout };

// Waits for the next ptrace event of t. The task's death is peeked at first (WNOWAIT), so the
// exit of a task that is our own child is left for libuv to reap.
Ev WaitEvent(Job* j, Tracee* t, int* status) {
  long slept = 0, step = 10;
  int spins = 0;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, t->tid, &si, WEXITED | WSTOPPED | __WALL | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) {  // reaped elsewhere: it is gone
        t->exited = true;
        return Ev::kExited;
      }
      Fail(j, "waitid", errno, t->tid);
      return Ev::kError;
    }
    if (si.si_pid == 0) {
      if (slept > 10 * 1000 * 1000) {  // 10 s: a task that never stops (D state)
        Fail(j, "waitid", ETIMEDOUT, t->tid, "the task did not stop for ptrace");
        return Ev::kTimeout;
      }
      // A stop usually lands within microseconds: yield first, sleep only if it does not.
      if (spins++ < 200) {
        sched_yield();
        continue;
      }
      SleepMicros(step);
      slept += step;
      if (step < 1000) step *= 2;
      continue;
    }
    if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
      t->exited = true;
      t->running = false;
      // A thread, or a process we only trace: reaping the trace notification hands it on to its
      // real parent. Our own child's status stays for libuv.
      bool leader = t->tid == j->pid;
      if (!(leader && j->caller_is_parent)) waitpid(t->tid, status, __WALL | WNOHANG);
      return Ev::kExited;
    }
    if (waitpid(t->tid, status, __WALL | WNOHANG) <= 0) continue;
    if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
      t->exited = true;
      t->running = false;
      return Ev::kExited;
    }
    t->running = false;
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

// Parses decimal names from a getdents64 buffer: the threads of j->pid.
int ListThreads(Job* j, int* out, int max) {
  int n = 0;
  int fd = open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  for (;;) {
    long got = syscall(SYS_getdents64, fd, j->dirbuf, sizeof j->dirbuf);
    if (got < 0) {
      int e = errno;
      close(fd);
      return -e;
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
  close(fd);
  return n;
}

Tracee* Find(Job* j, int tid) {
  for (int i = 0; i < j->ntracees; i++)
    if (j->tracees[i].tid == tid) return &j->tracees[i];
  return nullptr;
}

// Seizes and interrupts every thread, repeating the listing until no new thread appears (a
// thread can clone until it is stopped).
bool AttachAll(Job* j) {
  int tids[kMaxTracees];
  for (int round = 0; round < 64; round++) {
    int n = ListThreads(j, tids, j->capacity);
    if (n < 0) {
      Fail(j, "open /proc/PID/task", n == -ENOENT ? ESRCH : -n, j->pid, "the process is gone");
      return false;
    }
    int added = 0;
    for (int i = 0; i < n; i++) {
      if (Find(j, tids[i])) continue;
      if (j->ntracees >= j->capacity) {
        Fail(j, "ptrace(PTRACE_SEIZE)", E2BIG, j->pid, "too many threads");
        return false;
      }
      if (Ptrace(PTRACE_SEIZE, tids[i], nullptr, nullptr) != 0) {
        if (errno == ESRCH) continue;  // that thread just exited
        Fail(j, "ptrace(PTRACE_SEIZE)", errno, tids[i]);
        return false;
      }
      Tracee* t = &j->tracees[j->ntracees++];
      memset(t, 0, sizeof *t);
      t->tid = tids[i];
      t->attached = true;
      t->running = true;
      added++;
      if (Ptrace(PTRACE_INTERRUPT, t->tid, nullptr, nullptr) != 0) {
        if (errno == ESRCH) {
          t->exited = true;
          t->running = false;
          continue;
        }
        Fail(j, "ptrace(PTRACE_INTERRUPT)", errno, t->tid);
        return false;
      }
    }
    if (added == 0) return true;
    // Wait for this round's stops before listing again: a stopped thread cannot clone.
    for (int i = 0; i < j->ntracees; i++) {
      Tracee* t = &j->tracees[i];
      if (!t->running || t->exited) continue;
      int status = 0;
      Ev ev = WaitEvent(j, t, &status);
      if (ev == Ev::kError || ev == Ev::kTimeout) return false;
      if (ev == Ev::kStop && !IsEventStop(status)) {
        // Took a signal before the interrupt trap: owe it back; the trap is still pending but we
        // can work from this stop as well as from it.
        OweSignal(t, WSTOPSIG(status));
      }
    }
  }
  return true;
}

// Runs prctl(PR_GET_SECUREBITS) in t: one `syscall` instruction written at rip, registers set
// up for it, one single step, result from rax. Everything is put back before returning.
bool Inject(Job* j, Tracee* t, int* value) {
  if (Ptrace(PTRACE_GETREGS, t->tid, nullptr, &t->saved) != 0) {
    Fail(j, "ptrace(PTRACE_GETREGS)", errno, t->tid);
    return false;
  }
  t->addr = t->saved.rip;
  // The raw request stores the word through `data` (glibc's wrapper returns it instead).
  unsigned long word = 0;
  if (Ptrace(PTRACE_PEEKTEXT, t->tid, reinterpret_cast<void*>(t->addr), &word) != 0) {
    Fail(j, "ptrace(PTRACE_PEEKTEXT)", errno, t->tid);
    return false;
  }
  t->code = word;
  unsigned long patched = (t->code & ~0xffffUL) | 0x050fUL;  // 0f 05: syscall
  t->dirty = true;
  if (Ptrace(PTRACE_POKETEXT, t->tid, reinterpret_cast<void*>(t->addr),
             reinterpret_cast<void*>(patched)) != 0) {
    Fail(j, "ptrace(PTRACE_POKETEXT)", errno, t->tid);
    return false;
  }
  struct user_regs_struct regs = t->saved;
  regs.rax = SYS_prctl;
  // Not in a syscall as far as the kernel's restart logic is concerned: the interrupted
  // syscall's restart happens later, from the saved registers.
  regs.orig_rax = static_cast<unsigned long long>(-1);
  regs.rdi = PR_GET_SECUREBITS;
  regs.rsi = regs.rdx = regs.r10 = regs.r8 = 0;
  if (Ptrace(PTRACE_SETREGS, t->tid, nullptr, &regs) != 0) {
    Fail(j, "ptrace(PTRACE_SETREGS)", errno, t->tid);
    return false;
  }
  for (int loop = 0;; loop++) {
    if (loop >= kMaxStopLoops) {
      Fail(j, "ptrace(PTRACE_SINGLESTEP)", EIO, t->tid, "the injected syscall never completed");
      return false;
    }
    if (Ptrace(PTRACE_SINGLESTEP, t->tid, nullptr, nullptr) != 0) {
      Fail(j, "ptrace(PTRACE_SINGLESTEP)", errno, t->tid);
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
    if (Ptrace(PTRACE_GETREGS, t->tid, nullptr, &after) != 0) {
      Fail(j, "ptrace(PTRACE_GETREGS)", errno, t->tid);
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
  if (Ptrace(PTRACE_POKETEXT, t->tid, reinterpret_cast<void*>(t->addr),
             reinterpret_cast<void*>(t->code)) != 0)
    Fail(j, "ptrace(PTRACE_POKETEXT) restoring code", errno, t->tid);
  if (Ptrace(PTRACE_SETREGS, t->tid, nullptr, &t->saved) != 0)
    Fail(j, "ptrace(PTRACE_SETREGS) restoring registers", errno, t->tid);
  t->dirty = false;
}

void DetachAll(Job* j) {
  for (int i = 0; i < j->ntracees; i++) {
    Tracee* t = &j->tracees[i];
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
    if (Ptrace(PTRACE_DETACH, t->tid, nullptr, reinterpret_cast<void*>(sig)) != 0 && errno != ESRCH)
      Fail(j, "ptrace(PTRACE_DETACH)", errno, t->tid);
    for (int i = first; i < t->npending; i++) syscall(SYS_tgkill, j->pid, t->tid, t->pending[i]);
    t->attached = false;
  }
}

int RunJob(void* p) {
  Job* j = static_cast<Job*>(p);
  prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);  // our short sleeps, not 50 us each
  if (AttachAll(j)) {
    if (j->delay_ms > 0) SleepMicros(long(j->delay_ms) * 1000);
    for (int w = 0; w < j->nwanted; w++) {
      Tracee* t = Find(j, j->wanted[w]);
      j->values[w] = -1;
      if (!t || t->exited) continue;
      // A stop that arrived during the delay (the task was killed) shows up here.
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, t->tid, &si, WEXITED | __WALL | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0) {
        int status;
        WaitEvent(j, t, &status);
        Fail(j, "ptrace", ESRCH, t->tid, "the process exited during checkpoint");
        break;
      }
      int value = 0;
      bool ok = Inject(j, t, &value);
      if (!t->running && !t->exited) Restore(j, t);
      if (!ok) break;
      j->values[w] = value;
    }
  }
  DetachAll(j);
  return j->fail_syscall ? 1 : 0;
}

int ParentPid(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char* rp = strrchr(buf, ')');  // comm may hold spaces and parentheses
  int ppid = -1;
  char state;
  if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

}  // namespace

bool ReadSecurebitsPtrace(const SecurebitsRequest& req, std::vector<int>* values, Failure* f) {
  auto job = std::make_unique<Job>();
  memset(job.get(), 0, sizeof(Job));
  // Room for the threads there are now and as many again that may start before all are stopped.
  int now = 0;
  snprintf(job->path, sizeof job->path, "/proc/%d/task", req.pid);
  if (struct stat st; stat(job->path, &st) == 0) now = int(st.st_nlink) - 2;  // procfs: 2 + threads
  int capacity = std::min(kMaxTracees, std::max(now, int(req.tids.size())) * 2 + 16);
  std::vector<Tracee> tracees(capacity);
  job->capacity = capacity;
  values->assign(req.tids.size(), -1);
  job->pid = req.pid;
  job->caller_is_parent = ParentPid(req.pid) == getpid();
  job->delay_ms = req.test_delay_ms;
  job->tracees = tracees.data();
  job->wanted = req.tids.data();
  job->nwanted = static_cast<int>(req.tids.size());
  job->values = values->data();
  int r = RunInVmChild(RunJob, job.get());
  if (r < 0) {
    f->Errno("clone", -r, req.pid, "starting the ptrace helper");
    return false;
  }
  if (job->fail_syscall) {
    f->Errno(job->fail_syscall, job->fail_errno, job->fail_tid ? job->fail_tid : req.pid,
             job->fail_detail ? job->fail_detail : "");
    return false;
  }
  if (r != 0) {
    f->Errno("ptrace helper", EIO, req.pid, "the helper died");
    return false;
  }
  return true;
}

#else  // !__x86_64__

bool ReadSecurebitsPtrace(const SecurebitsRequest& req, std::vector<int>* values, Failure* f) {
  f->Coded("ERR_UNSUPPORTED_ARCH",
           "reading another task's securebits over ptrace: unsupported architecture", req.pid);
  return false;
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
