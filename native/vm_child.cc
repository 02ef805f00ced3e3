#include "vm_child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "raw_syscall.h"
#include "registry.h"

namespace crc {

namespace {

// Helpers that are done with our memory but may still be exiting: reaped at the next start of
// one, or when a promise settles (ReapVmChildren). `running`: one-shot helpers at work.
std::mutex g_reap_mu;
std::vector<int> g_reap;
std::vector<int> g_running;

// Shared futexes (no FUTEX_PRIVATE_FLAG): the kernel's CLONE_CHILD_CLEARTID wake is shared.
long FutexWait(int* addr, int val, const struct timespec* timeout = nullptr) {
  return syscall(SYS_futex, addr, FUTEX_WAIT, val, timeout, nullptr, 0);
}
void FutexWake(int* addr, int n) { syscall(SYS_futex, addr, FUTEX_WAKE, n, nullptr, nullptr, 0); }

// --- one-shot helpers ---

// The helper's stack, mapped once per calling thread (with a guard page below it) and reused:
// a fresh mapping per call costs its page faults and, at munmap, a TLB shootdown across the
// CPUs that run our threads.
struct VmStack {
  static constexpr size_t kGuard = 4096;
  static constexpr size_t kSize = 256 * 1024;
  void* base = nullptr;
  bool busy = false;  // a child of this thread runs on it
  ~VmStack() {
    if (base) munmap(base, kGuard + kSize);
  }
  char* Top() {
    if (!base) {
      void* p = mmap(nullptr, kGuard + kSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      mprotect(p, kGuard, PROT_NONE);
      base = p;
    }
    return static_cast<char*>(base) + kGuard + kSize;
  }
};
thread_local VmStack tls_stack;

struct VmChild {
  int pid = -1;
  int (*fn)(void*) = nullptr;
  void* arg = nullptr;
  int live = 0;     // cleared by the kernel when the child lets go of our memory (CLEARTID)
  int result = -1;  // fn's exit code, stored by the child
};

int VmTrampoline(void* p) {
  // Every signal is blocked from the first instruction (the mask is inherited): Node's
  // handlers were copied into the child, and none of them may run here.
  auto* c = static_cast<VmChild*>(p);
  int r = c->fn(c->arg) & 0xff;
  __atomic_store_n(&c->result, r, __ATOMIC_RELEASE);
  syscall(SYS_exit, r);  // raw exit: no atexit handlers, no flushing
  return 0;
}

}  // namespace

void ReapVmChildren() {
  std::lock_guard<std::mutex> lock(g_reap_mu);
  for (size_t i = 0; i < g_reap.size();) {
    int status;
    if (waitpid(g_reap[i], &status, __WALL | WNOHANG) == 0) {
      i++;  // still exiting
      continue;
    }
    g_reap[i] = g_reap.back();  // reaped (or, ECHILD, not ours to reap any more)
    g_reap.pop_back();
  }
}

int RunInVmChild(int (*fn)(void*), void* arg) {
  ReapVmChildren();
  char* top = tls_stack.busy ? nullptr : tls_stack.Top();
  if (!top) return tls_stack.busy ? -EBUSY : -errno;  // busy: fn called RunInVmChild
  VmChild c;
  c.fn = fn;
  c.arg = arg;
  c.live = 1;
  // Every signal blocked until the child is done: it starts with them blocked (the mask is
  // inherited), and nothing interrupts our wait, whose syscall would write this thread's errno,
  // which the child shares (it runs with our TLS).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // No exit signal: the child's end is ours to reap (__WALL) and wakes nobody else (a SIGCHLD
  // would wake Node's event loop to look at its own children for nothing). CLEARTID: the kernel
  // zeroes `live` and wakes its futex once the child has let go of our memory, as it exits or is
  // killed.
  tls_stack.busy = true;  // before the clone: the child runs on this stack from its first instruction
  {
    std::lock_guard<std::mutex> lock(g_reap_mu);  // seen by HelperPids from its first instruction
    c.pid = clone(&VmTrampoline, top, CLONE_VM | CLONE_CHILD_CLEARTID, &c, nullptr, nullptr, &c.live);
    if (c.pid > 0) g_running.push_back(c.pid);
  }
  if (c.pid < 0) {
    int err = errno;
    tls_stack.busy = false;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return -err;
  }
  for (int v; (v = __atomic_load_n(&c.live, __ATOMIC_ACQUIRE)) != 0;) FutexWait(&c.live, v);
  tls_stack.busy = false;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  int result = __atomic_load_n(&c.result, __ATOMIC_ACQUIRE);
  // Reaped now if it is gone already; else a moment later, rather than sleeping here a second
  // time until its exit completes, for nothing we need.
  int status;
  bool gone = waitpid(c.pid, &status, __WALL | WNOHANG) != 0;
  {
    std::lock_guard<std::mutex> lock(g_reap_mu);
    g_running.erase(std::find(g_running.begin(), g_running.end(), c.pid));
    if (!gone) g_reap.push_back(c.pid);
  }
  return result < 0 ? 255 : result;  // no result stored: the child was killed
}

// --- the tracer -------------------------------------------------------------------------------

namespace {

// Open notifier eventfds, each with the generation it was opened in (see TracerNotifierOpen).
// Under g_notifier_mu (after g_mu where both are taken).
std::mutex g_notifier_mu;
std::vector<std::pair<int, uint64_t>> g_notifiers;
uint64_t g_notifier_gen = 0;

// The generation of an open notifier; 0 if fd is none.
uint64_t NotifierGen(int fd) {
  std::lock_guard<std::mutex> lock(g_notifier_mu);
  for (auto& n : g_notifiers)
    if (n.first == fd) return n.second;
  return 0;
}

}  // namespace

int TracerNotifierOpen() {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -errno;
  std::lock_guard<std::mutex> lock(g_notifier_mu);
  g_notifiers.emplace_back(fd, ++g_notifier_gen);
  return fd;
}

void TracerNotifierClose(int fd) {
  std::lock_guard<std::mutex> lock(g_notifier_mu);
  for (auto n = g_notifiers.begin(); n != g_notifiers.end(); ++n) {
    if (n->first != fd) continue;
    g_notifiers.erase(n);
    close(fd);  // a tracer's copy (its own descriptor table) stays, unused, until it exits
    return;
  }
}

#if defined(__x86_64__)

namespace {

// The credentials a tracer was started with (it has the starting thread's), compared with ours
// at every post.
struct CredSnapshot {
  uid_t uid[4];
  gid_t gid[4];
  uint64_t cap_eff, cap_prm, cap_inh;
  bool operator==(const CredSnapshot& o) const { return memcmp(this, &o, sizeof o) == 0; }
};

CredSnapshot CurrentCreds() {
  CredSnapshot s;
  memset(&s, 0, sizeof s);
  getresuid(&s.uid[0], &s.uid[1], &s.uid[2]);
  getresgid(&s.gid[0], &s.gid[1], &s.gid[2]);
  s.uid[3] = uid_t(syscall(SYS_setfsuid, -1));  // -1 changes nothing and returns the current one
  s.gid[3] = gid_t(syscall(SYS_setfsgid, -1));
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &h, d) == 0) {
    s.cap_eff = d[0].effective | uint64_t(d[1].effective) << 32;
    s.cap_prm = d[0].permitted | uint64_t(d[1].permitted) << 32;
    s.cap_inh = d[0].inheritable | uint64_t(d[1].inheritable) << 32;
  }
  return s;
}

// The tracer's memory, one mapping: guard page, stack, its own thread pointer area, scratch.
constexpr size_t kGuard = 4096;
constexpr size_t kStack = 256 * 1024;
// Below the thread pointer: room for the static TLS (a few KB in Node) that libc code would
// reach; above it, a copy of our thread control block's head (the stack guard lives there).
constexpr size_t kTlsBelow = 64 * 1024;
constexpr size_t kTlsAbove = 4096;
constexpr size_t kTcbHead = 0x100;

// TracerJob::spin: the owner is not spinning, is spinning (no notice wanted), or the tracer has
// finished the job and read which.
constexpr int kSpinOff = 0, kSpinOn = 1, kSpinFinished = 2;

}  // namespace

struct TracerInstance {
  int pid = 0;
  // Nonzero while the tracer lives (the kernel zeroes it at exit: CLONE_CHILD_CLEARTID); bumped
  // after each job. Waiters sleep on it.
  int events = 1;
  int wake_fd = -1;   // eventfd: written with each post and at retirement (ours; it has a copy)
  int retiring = 0;   // no more jobs will come: exit once the queue is empty
  std::atomic<TracerJob*> head{nullptr};  // posted jobs, newest first
  std::atomic<int> busy{0};               // posted and not yet done
  CredSnapshot creds;
  // The descriptors it keeps (sorted): the notifier eventfds, its wake_fd and the lifeline's
  // read end; and the last notifier opened when it started.
  std::vector<int> keep;
  uint64_t notifier_gen = 0;
  char* mem = nullptr;
  size_t mem_size = 0;

  ~TracerInstance() {
    if (mem) munmap(mem, mem_size);
    if (wake_fd >= 0) close(wake_fd);
  }
  char* StackTop() { return mem + kGuard + kStack; }
  char* ThreadPointer() { return StackTop() + kTlsBelow; }
  char* Scratch() { return ThreadPointer() + kTlsAbove; }
};

namespace {

std::mutex g_mu;  // posting, starting, retiring, reaping
std::shared_ptr<TracerInstance> g_tracer;
// Tracers told to exit, kept (their memory too: it is their stack) until reaped.
std::vector<std::shared_ptr<TracerInstance>> g_retired;
// A pipe whose write end only this process holds (close-on-exec; never closed): a tracer, which
// keeps the read end, sees it hang up when we are gone, whichever thread started it and whenever
// that thread ends (PR_SET_PDEATHSIG would kill it with that thread: a worker's, say).
int g_lifeline[2] = {-1, -1};

bool Alive(TracerInstance* t) { return __atomic_load_n(&t->events, __ATOMIC_ACQUIRE) != 0; }

void Wake(TracerInstance* t) {
  uint64_t one = 1;
  (void)!write(t->wake_fd, &one, sizeof one);
}

// Runs in the tracer: raw system calls only, no TLS writes, nothing allocated.
int TracerMain(void* p) {
  auto* t = static_cast<TracerInstance*>(p);
  Sys(SYS_prctl, PR_SET_NAME, "cr-creds-trace");
  // None of our descriptors but its own (`keep`): a pipe's end held here would keep its reader
  // from seeing EOF (the lifeline's write end above all).
  unsigned from = 0;
  for (size_t i = 0; i <= t->keep.size(); i++) {
    unsigned to = i < t->keep.size() ? unsigned(t->keep[i]) : ~0U;  // next kept fd
    if (to > from && Sys(SYS_close_range, from, to - 1, 0) != 0) {
      struct rlimit lim = {1024, 1024};  // no close_range (before 5.9): one at a time
      Sys(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &lim);
      for (rlim_t fd = from; fd < std::min<rlim_t>({lim.rlim_cur, rlim_t(1) << 20, rlim_t(to)}); fd++)
        Sys(SYS_close, fd);
    }
    from = to + 1;
  }
  // Our own disposition (the tracer has its own copy of the handler table): SIGCHLD for every
  // stop of a tracee, whatever Node set (SA_NOCLDSTOP would silence the stops). It stays
  // blocked, as every signal does: jobs wait for it with rt_sigtimedwait.
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    unsigned long mask;
  } dfl = {reinterpret_cast<void*>(SIG_DFL), 0, nullptr, 0};
  Sys(SYS_rt_sigaction, SIGCHLD, &dfl, 0, sizeof dfl.mask);
  Sys(SYS_prctl, PR_SET_TIMERSLACK, 1);  // short sleeps (a test's delay) stay short
  char* scratch = t->Scratch();
  const int lifeline = g_lifeline[0];
  for (;;) {
    TracerJob* list = t->head.exchange(nullptr, std::memory_order_acq_rel);
    if (!list) {
      if (__atomic_load_n(&t->retiring, __ATOMIC_ACQUIRE)) return 0;
      // A post after the exchange above has written wake_fd: the poll returns at once.
      struct pollfd fds[2] = {{t->wake_fd, POLLIN, 0}, {lifeline, POLLIN, 0}};
      if (Sys(SYS_ppoll, fds, 2, 0, 0) > 0 && fds[1].revents) return 0;  // we are gone
      uint64_t count;
      Sys(SYS_read, t->wake_fd, &count, sizeof count);  // reset (non-blocking)
      continue;
    }
    TracerJob* fifo = nullptr;  // the list is newest first: turn it round
    while (list) {
      TracerJob* next = list->next;
      list->next = fifo;
      fifo = list;
      list = next;
    }
    while (fifo) {
      TracerJob* job = fifo;
      fifo = job->next;  // read before `done`: the job's owner may free it from then on
      int notify = job->notify_fd;  // read before `done`, as `next` is
      job->run(job->arg, scratch);
      // An owner spinning for the job (TracerSpin) sees `done` by itself; taken before `done`,
      // as the rest is.
      bool spun = __atomic_exchange_n(&job->spin, kSpinFinished, __ATOMIC_ACQ_REL) == kSpinOn;
      __atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
      t->busy.fetch_sub(1, std::memory_order_acq_rel);  // before the notice: it finds us idle
      if (notify >= 0 && !spun) {
        uint64_t one = 1;
        Sys(SYS_write, notify, &one, sizeof one);
      }
      int e = __atomic_add_fetch(&t->events, 1, __ATOMIC_ACQ_REL);
      if (e == 0) __atomic_store_n(&t->events, 1, __ATOMIC_RELEASE);  // 0 means dead
      Sys(SYS_futex, &t->events, FUTEX_WAKE, INT_MAX, 0);
    }
  }
}

// Under g_mu. No job will be posted to the current tracer any more: it exits once its queue is
// empty, and is reaped later (ReapRetired).
void RetireCurrent() {
  TracerInstance* t = g_tracer.get();
  __atomic_store_n(&t->retiring, 1, __ATOMIC_RELEASE);
  Wake(t);
  g_retired.push_back(std::move(g_tracer));
  g_tracer.reset();
}

// Under g_mu: reaps the retired tracers that are gone. `block`: those that have let go of our
// memory are waited for (only the last steps of their exit remain).
void ReapRetired(bool block) {
  for (size_t i = 0; i < g_retired.size();) {
    TracerInstance* t = g_retired[i].get();
    int status;
    if (Alive(t) || waitpid(t->pid, &status, __WALL | (block ? 0 : WNOHANG)) == 0) {
      i++;
      continue;
    }
    g_retired.erase(g_retired.begin() + i);  // reaped (its memory goes with the last job holding it)
  }
}

// Under g_mu.
int StartTracer() {
  auto t = std::make_shared<TracerInstance>();
  t->mem_size = kGuard + kStack + kTlsBelow + kTlsAbove + kTracerScratchBytes;
  void* m = mmap(nullptr, t->mem_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return -errno;
  t->mem = static_cast<char*>(m);
  mprotect(t->mem, kGuard, PROT_NONE);
  // Its own thread pointer: a copy of the head of ours (self pointers, stack guard), so that
  // nothing it runs reads or writes the TLS of one of our threads, which may exit before it.
  char* tp = t->ThreadPointer();
  char* ours;
  __asm__("mov %%fs:0, %0" : "=r"(ours));
  memcpy(tp, ours, kTcbHead);
  *reinterpret_cast<char**>(tp) = tp;         // tcb
  *reinterpret_cast<char**>(tp + 0x10) = tp;  // self
  t->creds = CurrentCreds();
  if (g_lifeline[0] < 0 && pipe2(g_lifeline, O_CLOEXEC) != 0) return -errno;
  t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (t->wake_fd < 0) return -errno;
  // Held until the clone: the notifiers it keeps are the ones open when its table is copied.
  std::lock_guard<std::mutex> notifier_lock(g_notifier_mu);
  for (auto& n : g_notifiers) t->keep.push_back(n.first);
  t->keep.push_back(t->wake_fd);
  t->keep.push_back(g_lifeline[0]);
  std::sort(t->keep.begin(), t->keep.end());
  t->notifier_gen = g_notifier_gen;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited: the tracer runs with all blocked
  int pid = clone(&TracerMain, t->StackTop(), CLONE_VM | CLONE_SETTLS | CLONE_CHILD_CLEARTID,
                  t.get(), nullptr, tp, &t->events);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return -err;
  t->pid = pid;
  g_tracer = std::move(t);
  return 0;
}

// Under g_mu: a dead tracer (killed), one started with other credentials, or one started before
// the notifier opened in generation `notifier_gen` (0: none) is replaced.
int CurrentTracer(uint64_t notifier_gen) {
  if (g_tracer && (!Alive(g_tracer.get()) || !(g_tracer->creds == CurrentCreds()) ||
                   g_tracer->notifier_gen < notifier_gen))
    RetireCurrent();
  ReapRetired(false);
  return g_tracer ? 0 : StartTracer();
}

// Under g_mu: what to do after a job's tracer died before the job ran.
void ReplaceDead(TracerInstance* t) {
  FutexWake(&t->events, INT_MAX);  // the kernel woke one waiter only: pass it on
  if (g_tracer.get() == t) RetireCurrent();
  ReapRetired(false);
}

}  // namespace

int TracerPost(TracerJob* job) {
  std::lock_guard<std::mutex> lock(g_mu);
  uint64_t gen = job->notify_fd >= 0 ? NotifierGen(job->notify_fd) : 0;
  if (job->notify_fd >= 0 && gen == 0) return -EBADF;  // not a notifier (closed?)
  int r = CurrentTracer(gen);
  if (r < 0) return r;
  TracerInstance* t = g_tracer.get();
  job->tracer = g_tracer;
  job->done = 0;
  job->spin = kSpinOff;
  t->busy.fetch_add(1, std::memory_order_acq_rel);
  TracerJob* head = t->head.load(std::memory_order_acquire);
  do job->next = head;
  while (!t->head.compare_exchange_weak(head, job, std::memory_order_acq_rel));
  Wake(t);
  return 0;
}

bool TracerWait(TracerJob* job) {
  TracerInstance* t = job->tracer.get();
  for (;;) {
    int ev = __atomic_load_n(&t->events, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) return true;
    if (ev == 0) {
      std::lock_guard<std::mutex> lock(g_mu);
      ReplaceDead(t);
      return false;
    }
    FutexWait(&t->events, ev);
  }
}

int TracerPoll(TracerJob* job) {
  TracerInstance* t = job->tracer.get();
  int ev = __atomic_load_n(&t->events, __ATOMIC_ACQUIRE);
  if (__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) return 1;
  if (ev != 0) return 0;
  std::lock_guard<std::mutex> lock(g_mu);
  ReplaceDead(t);
  return -1;
}

int TracerSpin(TracerJob* job, long max_us) {
  // On one CPU the tracer runs only once we give the CPU up. (Sleeping on its events word with
  // a timeout instead measured slower than the event loop's wait.)
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2) return TracerPoll(job);
  int off = kSpinOff;
  if (!__atomic_compare_exchange_n(&job->spin, &off, kSpinOn, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return TracerPoll(job);  // finished already (its notice sent or on its way)
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long limit = max_us;
  for (unsigned i = 1;; i++) {
    int r = TracerPoll(job);
    if (r != 0) return r;
    __builtin_ia32_pause();
    if (i % 16) continue;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000000 + (now.tv_nsec - start.tv_nsec) / 1000 < limit) continue;
    int on = kSpinOn;  // time's up: ask for the notice again
    if (__atomic_compare_exchange_n(&job->spin, &on, kSpinOff, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      return 0;
    // Too late: the tracer has taken our spin (it sends no notice) and sets `done` next. Wait
    // as long again; past that, the waiter's next look finds it.
    if (limit > max_us) return 0;
    limit += max_us;
  }
}

bool TracerStopIfIdle() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_tracer) {
    if (g_tracer->busy.load(std::memory_order_acquire) > 0) return false;
    RetireCurrent();
  }
  // Those with nothing left to do exit at once. Bounded all the same (a tracer stopped by
  // SIGSTOP would hold us): what is not reaped now is reaped later.
  struct timespec limit = {0, 100 * 1000000L};
  for (auto& t : g_retired) {
    if (t->busy.load(std::memory_order_acquire) > 0) continue;
    for (int ev; (ev = __atomic_load_n(&t->events, __ATOMIC_ACQUIRE)) != 0;)
      if (FutexWait(&t->events, ev, &limit) != 0 && errno == ETIMEDOUT) break;
  }
  ReapRetired(true);
  return true;
}

#else  // !__x86_64__: no job for a tracer here (securebits over ptrace are x86-64 only)

struct TracerInstance {};
int TracerPost(TracerJob*) { return -ENOSYS; }
bool TracerWait(TracerJob*) { return false; }
int TracerPoll(TracerJob*) { return -1; }
int TracerSpin(TracerJob*, long) { return -1; }
bool TracerStopIfIdle() { return true; }

#endif

std::vector<int> HelperPids() {
  ReapVmChildren();  // those that are gone are not seen any more
  std::vector<int> pids;
#if defined(__x86_64__)
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ReapRetired(false);
    if (g_tracer) pids.push_back(g_tracer->pid);
    for (auto& t : g_retired) pids.push_back(t->pid);
  }
#endif
  std::lock_guard<std::mutex> lock(g_reap_mu);
  pids.insert(pids.end(), g_reap.begin(), g_reap.end());
  pids.insert(pids.end(), g_running.begin(), g_running.end());
  return pids;
}

namespace {

Napi::Value StopTracerJs(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TracerStopIfIdle());
}

Napi::Value HelperPidsJs(const Napi::CallbackInfo& info) {
  std::vector<int> pids = HelperPids();
  Napi::Array out = Napi::Array::New(info.Env(), pids.size());
  for (size_t i = 0; i < pids.size(); i++) out.Set(uint32_t(i), Napi::Number::New(info.Env(), pids[i]));
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("stopTracer", Napi::Function::New(env, StopTracerJs, "stopTracer"));
  exports.Set("helperPids", Napi::Function::New(env, HelperPidsJs, "helperPids"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
