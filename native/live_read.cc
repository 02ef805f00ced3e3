// readLiveTasks / readLiveTasksFlat / readLiveTreeFlat / readChildren / parseProcStatus: the live read of
// processes, orchestrated (/proc on this thread or the pool, securebits by the tracer meanwhile
// or by the BPF reader after) and handed to JavaScript.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "cred_state_js.h"
#include "live_worker.h"
#include "proc_status.h"
#include "registry.h"
#include "securebits_bpf.h"
#include "securebits_ptrace.h"
#include "tracer.h"
#include "tracer_wait.h"

namespace crc {
namespace {

using Sv = std::string_view;

enum class Unknown { kFail, kMark, kSkip };

// How securebits are read: over ptrace by the tracer, or by the BPF reader on the reading
// thread (securebits_bpf.h).
enum class Reader { kPtrace, kBpf };

// The most the calling thread waits for the tracer on its CPU before leaving the wait to the
// loop: the tracer most often answers within it.
constexpr long long kSpinNs = 100 * 1000;

struct LiveOptions {
  bool threads = false;
  Unknown unknown = Unknown::kFail;
  Reader reader = Reader::kPtrace;
  int test_delay_ms = 0;
  long long spin_ns = kSpinNs;  // tests may set another bound
  int self = 0;              // our pid
  int self_securebits = -1;  // the calling thread's, read on the JS thread when self is asked for
};

struct LiveThread {
  int tid = 0;
  ProcStatus st;
  int securebits = -1;  // -1: unknown
  std::string securebits_error;
};

struct LiveTask {
  int pid = 0;
  uint64_t userns_inode = 0;
  int vppid = 0;
  std::vector<LiveThread> threads;  // the thread-group leader first
};

std::vector<int> ListTids(int pid, Failure* f) {
  std::vector<int> tids;
  std::string path = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(path.c_str());
  if (!d) {
    f->Errno("opendir " + path, errno == ENOENT ? ESRCH : errno, pid);
    return tids;
  }
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    tids.push_back(atoi(e->d_name));
  }
  closedir(d);
  std::sort(tids.begin(), tids.end());
  // The leader first, as the image's task is the process.
  auto it = std::find(tids.begin(), tids.end(), pid);
  if (it != tids.end()) std::rotate(tids.begin(), it, it + 1);
  return tids;
}

// The parent's pid as the task's own pid namespace sees it (0 when the parent lies outside).
int VirtualParentPid(const ProcStatus& st) {
  if (st.ppid == 0) return 0;
  size_t level = st.nspid.size() - 1;
  if (level == 0) return st.ppid;
  ProcStatus parent;
  Failure ignored;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", st.ppid);
  if (!ReadProcStatus(path, st.ppid, &parent, &ignored)) return 0;
  return parent.nspid.size() > level ? parent.nspid[level] : 0;
}

// Everything but the securebits: status of the process (and of its threads when asked), its
// user namespace, its parent.
// `read`: the leader's status, read already (by a tree walk), else null.
bool ReadLiveProc(int pid, const LiveOptions& o, LiveTask* t, Failure* f, const ProcStatus* read = nullptr) {
  t->pid = pid;
  char path[96];
  int base = snprintf(path, sizeof path, "/proc/%d", pid);
  LiveThread leader;
  leader.tid = pid;
  snprintf(path + base, sizeof path - base, "/status");
  if (read) leader.st = *read;
  else if (!ReadProcStatus(path, pid, &leader.st, f)) return false;
  if (leader.st.tgid != pid) {
    f->Errno(std::string("read ") + path, ESRCH, pid,
             "not a process (a thread id of process " + std::to_string(leader.st.tgid) + ")");
    return false;
  }
  t->threads.push_back(std::move(leader));
  if (o.threads) {
    std::vector<int> tids = ListTids(pid, f);
    if (f->set) return false;
    for (int tid : tids) {
      if (tid == pid) continue;
      LiveThread th;
      th.tid = tid;
      Failure tf;
      snprintf(path + base, sizeof path - base, "/task/%d/status", tid);
      if (!ReadProcStatus(path, pid, &th.st, &tf)) {
        if (tf.code.empty() && tf.err == ESRCH) continue;  // that thread exited meanwhile
        *f = tf;
        return false;
      }
      t->threads.push_back(std::move(th));
    }
  }
  struct stat st;
  snprintf(path + base, sizeof path - base, "/ns/user");
  if (stat(path, &st) != 0) {
    f->Errno(std::string("stat ") + path, errno == ENOENT ? ESRCH : errno, pid);
    return false;
  }
  t->userns_inode = st.st_ino;
  t->vppid = VirtualParentPid(t->threads[0].st);
  return true;
}

// The securebits part of a process, from its reader's result (sb: null for our own process).
bool FinishLiveProc(const LiveOptions& o, const SecurebitsResult* sb, LiveTask* t, Failure* f) {
  if (o.unknown == Unknown::kSkip) return true;
  if (!sb) {
    // Our own process cannot be traced by us: the calling thread's own prctl stands for the
    // process; other threads of ours stay unknown.
    t->threads[0].securebits = o.self_securebits;
    for (size_t i = 1; i < t->threads.size(); i++)
      t->threads[i].securebits_error = "a thread of the calling process";
  } else if (!sb->failure.set) {
    for (size_t i = 0; i < sb->values.size(); i++) {
      t->threads[i].securebits = sb->values[i];
      if (sb->values[i] < 0) t->threads[i].securebits_error = "the thread exited";
    }
  } else {
    if (!IsSecurebitsRefusal(sb->failure)) {
      // A process that exits mid-checkpoint lands here: ESRCH, named by the step.
      *f = sb->failure;
      return false;
    }
    std::string why = FailureToString(sb->failure);
    for (auto& th : t->threads) th.securebits_error = why;
  }
  for (auto& th : t->threads) {
    if (th.securebits >= 0 || o.unknown == Unknown::kMark) continue;
    f->Coded("ERR_SECUREBITS_UNREADABLE",
             "securebits of pid " + std::to_string(t->pid) + " (thread " + std::to_string(th.tid) +
                 ") cannot be read: " + th.securebits_error +
                 "; allow unknown securebits to record them as unknown",
             t->pid);
    return false;
  }
  return true;
}

// Whether a process's securebits are read (by the tracer or the BPF reader): not when skipped,
// nor for our own process (which cannot trace itself: FinishLiveProc answers for it).
bool ReadsSecurebits(int pid, const LiveOptions& o) {
  return o.unknown != Unknown::kSkip && pid != o.self;
}

// The securebits requests of the first `count` processes (see ReadsSecurebits): for the
// leader, or, with `tasks` read, for every thread read.
std::vector<SecurebitsRequest> SecurebitsRequests(const std::vector<int>& pids, size_t count,
                                                  const LiveOptions& o,
                                                  const std::vector<LiveTask>* tasks) {
  std::vector<SecurebitsRequest> reqs;
  for (size_t i = 0; i < count; i++) {
    if (!ReadsSecurebits(pids[i], o)) continue;
    reqs.emplace_back();
    SecurebitsRequest& req = reqs.back();
    req.pid = pids[i];
    req.test_delay_ms = o.test_delay_ms;
    if (tasks)
      for (auto& th : (*tasks)[i].threads) req.tids.push_back(th.tid);
    else
      req.tids.push_back(pids[i]);
  }
  return reqs;
}

// One readLiveTasks call. The securebits of the leaders only are known to be wanted before
// /proc is read: the tracer gets them at once, from the calling thread, and reads them while
// /proc is read (ReadProcPart); with every thread wanted, they are posted once /proc has listed
// the threads. The two are joined on the calling thread once the tracer is done (Join). With the
// BPF reader there is no tracer: securebits are read once /proc is (ReadWithoutTracer).
struct LiveRead {
  std::vector<int> pids;
  LiveOptions o;
  int notify_fd = -1;  // the calling thread's notifier (tracer_wait.h)
  std::shared_ptr<SecurebitsBatch> batch;  // null when no securebits go to the tracer
  SecurebitsBpfReader bpf;  // the BPF reader's program, held for this read (when it reads)
  std::vector<SecurebitsResult> bpf_results;  // with the BPF reader: as the tracer's results
  std::vector<LiveTask> tasks;
  size_t nread = 0;  // processes read from /proc: [0, nread)
  Failure proc_failure;
};

void PostEarly(LiveRead* r) {
  if (r->o.threads || r->o.unknown == Unknown::kSkip || r->o.reader == Reader::kBpf) return;
  r->batch = SecurebitsBatch::Post(SecurebitsRequests(r->pids, r->pids.size(), r->o, nullptr),
                                   r->o.unknown == Unknown::kMark);
}

// The securebits of a process read from /proc, by the BPF reader: a result as the tracer's.
// read(tid, pid, &value) answers one thread: 0, or -errno (-ESRCH: no such thread).
template <typename Read>
SecurebitsResult ReadSecurebitsBpf(const LiveTask& t, Read read) {
  SecurebitsResult res;
  res.done = true;
  if (t.threads[0].st.state == 'Z') {  // its leader has exited: as gone as ptrace finds it
    res.failure.Errno(kBpfReaderName, ESRCH, t.pid, "the process has exited");
  }
  for (size_t i = 0; i < t.threads.size() && !res.failure.set; i++) {
    uint32_t v = 0;
    int err = read(t.threads[i].tid, t.pid, &v);
    if (err == 0) {
      res.values.push_back(int(v));
    } else if (err == -ESRCH && i > 0) {
      res.values.push_back(-1);  // that thread exited meanwhile
    } else {
      res.failure.Errno(kBpfReaderName, -err, t.pid, err == -ESRCH ? "the process is gone" : "");
    }
  }
  if (res.failure.set) res.values.assign(t.threads.size(), -1);
  return res;
}

// Processes [begin, end) read from /proc, stopping at the first that fails: the index of that
// one (end if none) and its failure.
size_t ReadProcRange(LiveRead* r, size_t begin, size_t end, Failure* f) {
  for (size_t i = begin; i < end; i++)
    if (!ReadLiveProc(r->pids[i], r->o, &r->tasks[i], f)) return i;
  return end;
}

// Reads of /proc (and BPF) wait on nothing but the kernel: a long list is spread over threads,
// one per CPU we may run on, at most kMaxThreads, each with kPerThread items at least.
constexpr size_t kPerThread = 16;
constexpr size_t kMaxThreads = 4;

// Runs part(k, begin, end) over n items in parts as above, part k on [begin, end): the first
// on this thread, the others on threads of their own (or on this one, where no thread can be
// had), and waits for them all. Returns the number of parts (at most kMaxThreads). An exception
// a part throws is thrown here once all have ended (the first part's first).
size_t InParts(size_t n, const std::function<void(size_t, size_t, size_t)>& part) {
  cpu_set_t cpus;
  size_t cpu_count = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? size_t(CPU_COUNT(&cpus)) : 1;
  size_t parts = std::max<size_t>(1, std::min({cpu_count, kMaxThreads, n / kPerThread}));
  std::vector<std::exception_ptr> errors(parts);
  auto guarded = [&](size_t k) {
    try {
      part(k, n * k / parts, n * (k + 1) / parts);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(parts);
  for (size_t k = 1; k < parts; k++) {
    try {
      threads.emplace_back(guarded, k);
    } catch (...) {  // no thread to be had: this one runs the part
      guarded(k);
    }
  }
  guarded(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return parts;
}

// The BPF reader reads every task of the system in one pass, rather than each thread in turn,
// for at least 1 thread in kReadAllShare of the system's (a pass costs a small share of a
// thread's own read for each task it visits) and at least kReadAllFrom.
constexpr size_t kReadAllShare = 20;
constexpr size_t kReadAllFrom = 16;

// The BPF reader's securebits of the processes read, [0, nread), into r->bpf_results.
void ReadBpfPart(LiveRead* r) {
  size_t wanted = 0;
  for (size_t i = 0; i < r->nread; i++)
    if (ReadsSecurebits(r->pids[i], r->o)) wanted += r->tasks[i].threads.size();
  std::vector<BpfTask> all;
  struct sysinfo si;
  size_t tasks = sysinfo(&si) == 0 ? si.procs : 0;  // the system's threads
  if (wanted >= kReadAllFrom && wanted * kReadAllShare >= tasks && r->bpf.ReadAll(&all) == 0) {
    // (Pids of the initial pid namespace, ours: ReadAll refuses another.)
    auto lookup = [&all](int tid, int pid, uint32_t* v) {
      auto it = std::lower_bound(all.begin(), all.end(), uint32_t(tid), [](const BpfTask& t, uint32_t id) { return t.pid < id; });
      if (it == all.end() || it->pid != uint32_t(tid) || it->tgid != uint32_t(pid)) return -ESRCH;
      *v = it->securebits;
      return 0;
    };
    for (size_t i = 0; i < r->nread; i++)
      if (ReadsSecurebits(r->pids[i], r->o)) r->bpf_results.push_back(ReadSecurebitsBpf(r->tasks[i], lookup));
    return;
  }
  std::vector<SecurebitsResult> sb(r->nread);
  InParts(r->nread, [&](size_t, size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++)
      if (ReadsSecurebits(r->pids[i], r->o))
        sb[i] = ReadSecurebitsBpf(r->tasks[i], [r](int tid, int pid, uint32_t* v) { return r->bpf.Read(tid, pid, v); });
  });
  for (auto& res : sb)
    if (res.done) r->bpf_results.push_back(std::move(res));
}

// Without the tracer (the BPF reader, or securebits skipped): /proc in parts (InParts), as if
// read in order (up to the first process that fails), then the BPF reader's part.
void ReadWithoutTracer(LiveRead* r) {
  size_t n = r->pids.size();
  std::vector<size_t> stopped(kMaxThreads), ends(kMaxThreads);
  std::vector<Failure> failures(kMaxThreads);
  size_t parts = InParts(n, [&](size_t k, size_t begin, size_t end) {
    ends[k] = end;
    stopped[k] = ReadProcRange(r, begin, end, &failures[k]);
  });
  r->nread = n;
  for (size_t k = 0; k < parts; k++) {
    if (stopped[k] == ends[k]) continue;
    r->nread = stopped[k];
    r->proc_failure = failures[k];
    break;
  }
  if (r->o.reader == Reader::kBpf && r->o.unknown != Unknown::kSkip) ReadBpfPart(r);
}

// /proc for each process, stopping at the first that fails; then the late post, if any.
void ReadProcPart(LiveRead* r) {
  r->tasks.resize(r->pids.size());
  if (r->o.reader == Reader::kBpf || r->o.unknown == Unknown::kSkip) {
    ReadWithoutTracer(r);
    return;
  }
  for (; r->nread < r->pids.size(); r->nread++)
    if (!ReadLiveProc(r->pids[r->nread], r->o, &r->tasks[r->nread], &r->proc_failure)) break;
  if (!r->batch && r->o.unknown != Unknown::kSkip)
    r->batch = SecurebitsBatch::Post(SecurebitsRequests(r->pids, r->nread, r->o, &r->tasks),
                                     r->o.unknown == Unknown::kMark);
}

// Once /proc is read and the tracer is done: the securebits into the tasks. The failure
// reported is that of the first process that fails, at whichever step, as if each process were
// read whole before the next.
bool Join(LiveRead* r, Failure* f) {
  std::vector<SecurebitsResult> results;
  if (r->batch) r->batch->Finish(&results);
  else results = std::move(r->bpf_results);
  size_t req = 0;  // the requests follow the processes (see ReadsSecurebits)
  for (size_t i = 0; i < r->nread; i++) {
    const SecurebitsResult* sb = ReadsSecurebits(r->pids[i], r->o) ? &results[req++] : nullptr;
    if (sb && !sb->done) {  // the batch stopped before it; an earlier failure says why
      f->Errno("ptrace helper", EIO, r->tasks[i].pid, "the process was not reached");
      return false;
    }
    if (!FinishLiveProc(r->o, sb, &r->tasks[i], f)) return false;
  }
  if (r->nread < r->pids.size()) {
    *f = r->proc_failure;
    return false;
  }
  return true;
}

Napi::Object StatusToJs(Napi::Env env, const ProcStatus& s) {
  Napi::Object o = Napi::Object::New(env);
  auto arr = [&](const auto& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), Napi::Number::New(env, double(v[i])));
    return a;
  };
  o.Set("state", std::string(1, s.state));
  o.Set("tgid", s.tgid);
  o.Set("pid", s.pid);
  o.Set("ppid", s.ppid);
  o.Set("tracerPid", s.tracer_pid);
  o.Set("uids", arr(std::vector<uint32_t>(s.uid, s.uid + 4)));
  o.Set("gids", arr(std::vector<uint32_t>(s.gid, s.gid + 4)));
  o.Set("groups", arr(s.groups));
  o.Set("nstgid", arr(s.nstgid));
  o.Set("nspid", arr(s.nspid));
  o.Set("nspgid", arr(s.nspgid));
  o.Set("nssid", arr(s.nssid));
  o.Set("caps", CapsToJs(env, s.cap_inh, s.cap_prm, s.cap_eff, s.cap_bnd, s.cap_amb));
  o.Set("noNewPrivs", s.no_new_privs);
  return o;
}

Napi::Object TaskToJs(Napi::Env env, const LiveTask& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", t.pid);
  o.Set("userNsInode", Napi::BigInt::New(env, t.userns_inode));
  const ProcStatus& s = t.threads[0].st;
  o.Set("vpid", s.nspid.back());
  o.Set("vtgid", s.nstgid.back());
  o.Set("vppid", t.vppid);
  o.Set("vpgid", s.nspgid.back());
  o.Set("vsid", s.nssid.back());
  Napi::Array threads = Napi::Array::New(env, t.threads.size());
  for (size_t i = 0; i < t.threads.size(); i++) {
    const LiveThread& th = t.threads[i];
    Napi::Object o2 = StatusToJs(env, th.st);
    o2.Set("tid", th.tid);
    o2.Set("securebits", th.securebits >= 0 ? Napi::Value(Napi::Number::New(env, th.securebits))
                                            : env.Null());
    if (th.securebits < 0 && !th.securebits_error.empty())
      o2.Set("securebitsError", th.securebits_error);
    threads.Set(uint32_t(i), o2);
  }
  o.Set("threads", threads);
  return o;
}

// The same answer flat, for readLive to turn into objects in JavaScript (where object literals
// cost a fraction of what Node-API calls do, one per property): see LiveTasksFlat in
// lib/native/binding.ts for the layout.
struct FlatTasks {
  std::vector<double> nums;
  std::vector<uint64_t> bigs;
  std::vector<std::string> strings;
};

void Flatten(const std::vector<LiveTask>& tasks, FlatTasks* out) {
  std::vector<double>& n = out->nums;
  auto list = [&](const auto& v) {
    n.push_back(double(v.size()));
    for (auto x : v) n.push_back(double(x));
  };
  for (const LiveTask& t : tasks) {
    const ProcStatus& s0 = t.threads[0].st;
    n.insert(n.end(), {double(t.pid), double(s0.nspid.back()), double(s0.nstgid.back()),
                       double(t.vppid), double(s0.nspgid.back()), double(s0.nssid.back()),
                       double(t.threads.size())});
    out->bigs.push_back(t.userns_inode);
    for (const LiveThread& th : t.threads) {
      const ProcStatus& s = th.st;
      double err = -1;
      if (th.securebits < 0 && !th.securebits_error.empty()) {
        err = double(out->strings.size());
        out->strings.push_back(th.securebits_error);
      }
      n.insert(n.end(), {double(th.tid), double(th.securebits), err, double(uint8_t(s.state)),
                         double(s.tgid), double(s.pid), double(s.ppid), double(s.tracer_pid),
                         double(s.uid[0]), double(s.uid[1]), double(s.uid[2]), double(s.uid[3]),
                         double(s.gid[0]), double(s.gid[1]), double(s.gid[2]), double(s.gid[3]),
                         s.no_new_privs ? 1.0 : 0.0});
      list(s.groups);
      list(s.nstgid);
      list(s.nspid);
      list(s.nspgid);
      list(s.nssid);
      out->bigs.insert(out->bigs.end(), {s.cap_inh, s.cap_prm, s.cap_eff, s.cap_bnd, s.cap_amb});
    }
  }
}

Napi::Value FlatToJs(Napi::Env env, const FlatTasks& flat) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Float64Array nums = Napi::Float64Array::New(env, flat.nums.size());
  if (!flat.nums.empty()) memcpy(nums.Data(), flat.nums.data(), flat.nums.size() * sizeof(double));
  o.Set("nums", nums);
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, flat.bigs.size() * sizeof(uint64_t));
  if (!flat.bigs.empty()) memcpy(buf.Data(), flat.bigs.data(), flat.bigs.size() * sizeof(uint64_t));
  napi_value bigs;
  if (napi_create_typedarray(env, napi_biguint64_array, flat.bigs.size(), buf, 0, &bigs) != napi_ok)
    throw Napi::Error::New(env);
  o.Set("bigs", Napi::Value(env, bigs));
  Napi::Array strings = Napi::Array::New(env, flat.strings.size());
  for (size_t i = 0; i < flat.strings.size(); i++) strings.Set(uint32_t(i), flat.strings[i]);
  o.Set("strings", strings);
  return o;
}

// The answer of readLiveTasks (objects) or readLiveTasksFlat (flat).
Napi::Value TasksToJs(Napi::Env env, const std::vector<LiveTask>& tasks, bool flat) {
  if (flat) {
    FlatTasks packed;
    Flatten(tasks, &packed);
    return FlatToJs(env, packed);
  }
  Napi::Array out = Napi::Array::New(env, tasks.size());
  for (size_t i = 0; i < tasks.size(); i++) out.Set(uint32_t(i), TaskToJs(env, tasks[i]));
  return out;
}

// The pids argument (info[0]) of `name`: an array of positive numbers, else a TypeError.
std::shared_ptr<std::vector<int>> PidsArgument(const Napi::CallbackInfo& info, const char* name,
                                               const char* signature) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(env, std::string(signature) + ": pids must be an array");
  auto pids = std::make_shared<std::vector<int>>();
  Napi::Array a = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() <= 0)
      throw Napi::TypeError::New(env, std::string(name) + ": every pid must be a positive number");
    pids->push_back(v.As<Napi::Number>().Int32Value());
  }
  return pids;
}

// The options argument (info[1]) of readLiveTasks and readLiveTreeFlat; `others`: a process other
// than ours is to be read (else no reader is opened).
void ParseLiveOptions(const Napi::CallbackInfo& info, bool others, LiveOptions* out, SecurebitsBpfReader* bpf) {
  Napi::Env env = info.Env();
  LiveOptions& o = *out;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object opts = info[1].As<Napi::Object>();
    o.threads = opts.Get("threads").ToBoolean();
    Napi::Value u = opts.Get("unknownSecurebits");
    if (u.IsString()) {
      std::string s = u.As<Napi::String>();
      if (s == "mark") o.unknown = Unknown::kMark;
      else if (s == "skip") o.unknown = Unknown::kSkip;
      else if (s != "fail")
        throw Napi::TypeError::New(env, "unknownSecurebits must be 'fail', 'mark' or 'skip'");
    }
    Napi::Value d = opts.Get("testDelayMs");
    if (d.IsNumber()) o.test_delay_ms = d.As<Napi::Number>().Int32Value();
    Napi::Value via = opts.Get("securebitsReader");
    if (via.IsString()) {
      std::string s = via.As<Napi::String>();
      if (s != "ptrace" && s != "bpf" && s != "auto")
        throw Napi::TypeError::New(env, "securebitsReader must be 'auto', 'bpf' or 'ptrace'");
      // The test hook holds tasks stopped under ptrace: it means the tracer. Our own process
      // alone needs no reader (FinishLiveProc).
      if (s != "ptrace" && o.unknown != Unknown::kSkip && o.test_delay_ms == 0 && others) {
        std::string why;
        if (bpf->Open(&why)) {
          o.reader = Reader::kBpf;
        } else if (s == "bpf") {
          Napi::Error e = Napi::Error::New(env, "securebits cannot be read with BPF: " + why);
          e.Set("code", "ERR_SECUREBITS_READER_UNAVAILABLE");
          throw e;
        }
      }
    }
    Napi::Value spin = opts.Get("testSpinMs");
    if (spin.IsNumber()) o.spin_ns = std::llround(std::clamp(spin.As<Napi::Number>().DoubleValue(), 0.0, 1000.0) * 1e6);
  }
}

// Processes read on the calling thread rather than on the pool (leaders only; see below).
constexpr size_t kInlinePids = 4;

// readLiveTasks(pids, {threads?, unknownSecurebits?: 'fail'|'mark'|'skip',
// securebitsReader?: 'ptrace'|'bpf'|'auto', testDelayMs?, testSpinMs?}), and readLiveTasksFlat
// (the same, flat).
Napi::Value ReadLiveTasksImpl(const Napi::CallbackInfo& info, bool flat) {
  Napi::Env env = info.Env();
  auto pids = PidsArgument(info, "readLiveTasks", "readLiveTasks(pids, options?)");
  LiveOptions o;
  SecurebitsBpfReader bpf;
  bool others = std::any_of(pids->begin(), pids->end(), [](int p) { return p != getpid(); });
  ParseLiveOptions(info, others, &o, &bpf);
  o.self = getpid();
  if (std::find(pids->begin(), pids->end(), o.self) != pids->end())
    o.self_securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  auto r = std::make_shared<LiveRead>();
  r->pids = std::move(*pids);
  r->o = o;
  r->bpf = std::move(bpf);
  if (o.unknown != Unknown::kSkip && o.reader == Reader::kPtrace) {
    r->notify_fd = TracerNotifyFd(env);
    if (r->notify_fd < 0) throw ErrnoError(env, "eventfd", -r->notify_fd, 0, "waiting for the ptrace helper");
  }
  PostEarly(r.get());
  // The work keeps its failures in r (Join reports them): the Failure handed here is never set.
  // A few processes' /proc files are read here, on the calling thread, as libuv reads
  // /proc/self files: about 10 us of kernel work each, shorter than a pool thread's round trip.
  bool inline_read = !o.threads && r->pids.size() <= kInlinePids;
  // Then the tracer is waited for on this CPU a moment (on more than one CPU) before the loop is
  // left to wait: its answer most often comes within that, and a CPU that halted meanwhile, woken
  // by its notice, costs more than the wait.
  long long spin_ns = inline_read ? o.spin_ns : 0;
  PromiseWorker::Then then = [r, flat, spin_ns](Napi::Env env, Napi::Promise::Deferred deferred, const Failure&) {
    auto settle = [r, flat, deferred](Napi::Env env) {
      Failure jf;
      Join(r.get(), &jf);
      SettlePromise(env, deferred, jf, [&](Napi::Env env) { return TasksToJs(env, r->tasks, flat); });
    };
    if (!r->batch || r->batch->EndedWithin(spin_ns)) {
      settle(env);
      return;
    }
    try {
      // The tracer told to write our notifier only now, when the loop is to wait for it.
      r->batch->NotifyWhenDone(r->notify_fd);
      WhenTracerDone(env, [r] { return r->batch->Ended(); }, settle);
    } catch (const Napi::Error& e) {  // no notifier to wait on (see TracerNotifyFd)
      deferred.Reject(e.Value());
    }
  };
  if (inline_read) {
    ReadProcPart(r.get());
    auto deferred = Napi::Promise::Deferred::New(env);
    then(env, deferred, Failure());
    return deferred.Promise();
  }
  return PromiseWorker::StartThen(env, [r](Failure*) { ReadProcPart(r.get()); }, then);
}

// From /proc/PID/stat: the state letter and the thread count; false when it cannot be read
// (the process is gone).
bool ReadStateAndThreads(const char* path, char* buf, size_t cap, char* state, long* threads) {
  std::string big;
  long n = ReadProcFile(path, buf, cap, &big, true);
  if (n <= 0) return false;
  Sv text = big.empty() ? Sv(buf, size_t(n)) : Sv(big);
  size_t close = text.rfind(')');  // comm may hold spaces and parentheses: the last ')'
  if (close == Sv::npos || close + 2 >= text.size()) return false;
  *state = text[close + 2];
  // Fields after the comm, space-separated: the state is the 3rd, num_threads the 20th.
  int field = 3;
  size_t i = close + 2;
  for (; i < text.size() && field < 20; i++)
    if (text[i] == ' ') field++;
  *threads = field == 20 ? strtol(text.data() + i, nullptr, 10) : 0;
  return true;
}

// The children of process pid (whose thread count is `threads`: 1 needs no listing) from every
// thread's /proc/PID/task/TID/children, our own helpers left out; false when it is gone.
bool ChildrenOf(int pid, int threads, const std::vector<int>& helpers, std::vector<int>* out) {
  char path[96];
  int base = snprintf(path, sizeof path, "/proc/%d/task", pid);
  std::vector<int> tids;
  if (threads == 1) {
    tids.push_back(pid);
  } else {
    Failure gone;
    tids = ListTids(pid, &gone);
    if (gone.set) return false;
  }
  char buf[4096];
  std::string big;
  for (int tid : tids) {
    snprintf(path + base, sizeof path - base, "/%d/children", tid);
    big.clear();
    long n = ReadProcFile(path, buf, sizeof buf, &big);
    if (n <= 0) continue;  // no children, or the thread exited meanwhile
    Sv text = big.empty() ? Sv(buf, size_t(n)) : Sv(big);
    int32_t v = 0;
    bool in = false;
    auto add = [&] {
      if (std::find(helpers.begin(), helpers.end(), v) == helpers.end()) out->push_back(v);
    };
    for (char c : text) {
      if (c >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
        in = true;
      } else if (in) {
        add();
        v = 0;
        in = false;
      }
    }
    if (in) add();
  }
  return true;
}

// The children of each pid, from /proc/PID/task/*/children (every thread's). flat gets, per pid
// in order: the count, then that many child pids; a count of -1 when the process is gone. A
// process whose leader is a zombie (it has exited, or its main thread has while other threads
// live on, keeping its children) has -2 before its count. Threads that exit meanwhile are
// skipped.
void ReadChildrenOf(const int* pids, size_t count, const std::vector<int>& helpers, std::vector<int32_t>* flat) {
  char buf[4096];
  char path[96];
  std::vector<int> kids;
  for (size_t i = 0; i < count; i++) {
    int pid = pids[i];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    char state = 0;
    long threads = 0;
    if (!ReadStateAndThreads(path, buf, sizeof buf, &state, &threads)) {
      flat->push_back(-1);
      continue;
    }
    if (state == 'Z' || state == 'X') flat->push_back(-2);
    kids.clear();
    if (!ChildrenOf(pid, int(threads), helpers, &kids)) {
      flat->push_back(-1);
      continue;
    }
    flat->push_back(int32_t(kids.size()));
    flat->insert(flat->end(), kids.begin(), kids.end());
  }
}

void ReadChildren(const std::vector<int>& pids, std::vector<int32_t>* flat) {
  // Our own helper processes (the tracer, above all) are children of ours, not of the tree.
  const std::vector<int> helpers = HelperPids();
  std::vector<std::vector<int32_t>> found(kMaxThreads);
  size_t parts = InParts(pids.size(), [&](size_t k, size_t begin, size_t end) {
    ReadChildrenOf(pids.data() + begin, end - begin, helpers, &found[k]);
  });
  for (size_t k = 0; k < parts; k++) flat->insert(flat->end(), found[k].begin(), found[k].end());
}

// What the tree walk learns of one process.
struct TreeFound {
  bool gone = false;
  bool zombie = false;  // its leader has exited: left out, its children walked
  LiveTask task;
  std::vector<int> children;
  Failure failure;  // set: it could not be read for another reason than being gone
};

// One process of the walk: its status once (the state, the thread count and the creds), then,
// unless it is a zombie, the rest of its live read; then its children.
void WalkOne(int pid, bool root, const LiveOptions& o, const std::vector<int>& helpers, TreeFound* found) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  ProcStatus st;
  Failure f;
  if (!ReadProcStatus(path, pid, &st, &f)) {
    found->gone = f.code.empty() && f.err == ESRCH;
    if (!found->gone) found->failure = f;
    return;
  }
  // (The root is read whole all the same: a zombie root is reported as such.)
  found->zombie = !root && (st.state == 'Z' || st.state == 'X');
  if (!found->zombie && !ReadLiveProc(pid, o, &found->task, &f, &st)) {
    // (The root's failure is its own: a thread id given as the root, say.)
    found->gone = !root && f.code.empty() && f.err == ESRCH;
    if (!found->gone) found->failure = f;
    return;
  }
  if (!ChildrenOf(pid, st.threads, helpers, &found->children) && !found->zombie) found->gone = true;
}

// A process and all its descendants, walked a level at a time (breadth-first, as processTree),
// each read as it is found: into r->pids and r->tasks (zombies left out) and *parents (each
// task's parent's pid; the root's 0). Processes gone during the walk are left out; the root
// must be there.
void ReadTree(LiveRead* r, int root, std::vector<int32_t>* parents) {
  const std::vector<int> helpers = HelperPids();
  std::vector<int> level = {root}, level_parents = {0};
  std::unordered_set<int> seen = {root};
  while (!level.empty()) {
    std::vector<TreeFound> found(level.size());
    InParts(level.size(), [&](size_t, size_t begin, size_t end) {
      for (size_t i = begin; i < end; i++) WalkOne(level[i], level[i] == root, r->o, helpers, &found[i]);
    });
    std::vector<int> next, next_parents;
    for (size_t i = 0; i < level.size(); i++) {
      TreeFound& t = found[i];
      if (t.failure.set) {
        r->proc_failure = t.failure;
        return;
      }
      if (t.gone) {
        if (level[i] == root) {
          r->proc_failure.Errno("open /proc/PID/task", ESRCH, root, "process " + std::to_string(root) + ": no such process");
          return;
        }
        continue;
      }
      if (!t.zombie) {
        r->pids.push_back(level[i]);
        r->tasks.push_back(std::move(t.task));
        parents->push_back(level_parents[i]);
      }
      for (int c : t.children) {
        if (!seen.insert(c).second) continue;
        next.push_back(c);
        next_parents.push_back(level[i]);
      }
    }
    level = std::move(next);
    level_parents = std::move(next_parents);
  }
}

// readChildren(pids): Promise<Int32Array>, see ReadChildren.
Napi::Value ReadChildrenJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto pids = PidsArgument(info, "readChildren", "readChildren(pids)");
  auto flat = std::make_shared<std::vector<int32_t>>();
  return PromiseWorker::Start(
      env, [pids, flat](Failure*) { ReadChildren(*pids, flat.get()); },
      [flat](Napi::Env env) -> Napi::Value {
        Napi::Int32Array out = Napi::Int32Array::New(env, flat->size());
        if (!flat->empty()) memcpy(out.Data(), flat->data(), flat->size() * sizeof(int32_t));
        return out;
      });
}

Napi::Value ReadLiveTasksJs(const Napi::CallbackInfo& info) {
  return ReadLiveTasksImpl(info, false);
}
// readLiveTreeFlat(root, options): a process and its descendants, walked and read at once
// (ReadTree), as { tasks: readLiveTasksFlat's answer, parents: Int32Array } (parents[i]: the
// parent pid of tasks' i-th; the root's 0). Null, without reading, where securebits would go to
// the tracer: that read posts every process before reading /proc, which needs the walk done
// first (processTree, then readLiveTasksFlat).
Napi::Value ReadLiveTreeFlatJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() <= 0)
    throw Napi::TypeError::New(env, "readLiveTreeFlat(root, options?): root must be a positive pid");
  int root = info[0].As<Napi::Number>().Int32Value();
  LiveOptions o;
  SecurebitsBpfReader bpf;
  ParseLiveOptions(info, root != getpid(), &o, &bpf);
  if (o.reader == Reader::kPtrace && o.unknown != Unknown::kSkip) return env.Null();
  // (Our own process may be in the tree: the calling thread's securebits stand for it.)
  o.self = getpid();
  if (o.unknown != Unknown::kSkip) o.self_securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  auto r = std::make_shared<LiveRead>();
  r->o = o;
  r->bpf = std::move(bpf);
  auto parents = std::make_shared<std::vector<int32_t>>();
  return PromiseWorker::StartThen(
      env,
      [r, root, parents](Failure*) {
        ReadTree(r.get(), root, parents.get());
        r->nread = r->tasks.size();
        if (r->o.reader == Reader::kBpf && r->o.unknown != Unknown::kSkip) ReadBpfPart(r.get());
      },
      [r, parents](Napi::Env env, Napi::Promise::Deferred deferred, const Failure&) {
        // The first failure in the walk's order, whichever step: the processes read before the
        // one /proc failed on are joined first.
        Failure f;
        Join(r.get(), &f);
        if (!f.set) f = r->proc_failure;
        SettlePromise(env, deferred, f, [&](Napi::Env env) {
          Napi::Object out = Napi::Object::New(env);
          out.Set("tasks", TasksToJs(env, r->tasks, true));
          Napi::Int32Array p = Napi::Int32Array::New(env, parents->size());
          if (!parents->empty()) memcpy(p.Data(), parents->data(), parents->size() * sizeof(int32_t));
          out.Set("parents", p);
          return out;
        });
      });
}

Napi::Value ReadLiveTasksFlatJs(const Napi::CallbackInfo& info) {
  return ReadLiveTasksImpl(info, true);
}

// parseProcStatus(text, path?): the parser alone, for tests of its strictness.
Napi::Value ParseProcStatusJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "parseProcStatus(text, path?): text must be a string");
  std::string path = info.Length() > 1 && info[1].IsString()
                         ? std::string(info[1].As<Napi::String>())
                         : std::string("status");
  ProcStatus s;
  Failure f;
  if (!ParseProcStatus(info[0].As<Napi::String>(), path, 0, &s, &f)) throw FailureToJs(env, f);
  return StatusToJs(env, s);
}

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
      env,
      [req, values](Failure* f) {
        std::vector<SecurebitsResult> results;
        SecurebitsBatch::Post({*req}, false)->Finish(&results);
        if (results[0].failure.set) *f = results[0].failure;
        else *values = std::move(results[0].values);
      },
      [values](Napi::Env env) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, values->size());
        for (size_t i = 0; i < values->size(); i++)
          out.Set(uint32_t(i), (*values)[i] < 0 ? env.Null() : Napi::Number::New(env, (*values)[i]));
        return out;
      });
}

// stopTracer(releaseReaders = true): ends the tracer if it is idle (TracerStopIfIdle), and
// unless told not to, lets the BPF reader's program go (a read under way keeps it till it ends).
Napi::Value StopTracerJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || info[0].IsUndefined() || info[0].ToBoolean()) SecurebitsBpfRelease();
  return Napi::Boolean::New(info.Env(), TracerStopIfIdle());
}

// helperPids(): HelperPids.
Napi::Value HelperPidsJs(const Napi::CallbackInfo& info) {
  std::vector<int> pids = HelperPids();
  Napi::Array out = Napi::Array::New(info.Env(), pids.size());
  for (size_t i = 0; i < pids.size(); i++) out.Set(uint32_t(i), Napi::Number::New(info.Env(), pids[i]));
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readLiveTasks", Napi::Function::New(env, ReadLiveTasksJs, "readLiveTasks"));
  exports.Set("readLiveTasksFlat",
              Napi::Function::New(env, ReadLiveTasksFlatJs, "readLiveTasksFlat"));
  exports.Set("parseProcStatus", Napi::Function::New(env, ParseProcStatusJs, "parseProcStatus"));
  exports.Set("readChildren", Napi::Function::New(env, ReadChildrenJs, "readChildren"));
  exports.Set("readLiveTreeFlat", Napi::Function::New(env, ReadLiveTreeFlatJs, "readLiveTreeFlat"));
  exports.Set("readSecurebits", Napi::Function::New(env, ReadSecurebitsJs, "readSecurebits"));
  exports.Set("stopTracer", Napi::Function::New(env, StopTracerJs, "stopTracer"));
  exports.Set("helperPids", Napi::Function::New(env, HelperPidsJs, "helperPids"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
