#include "proc_creds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "registry.h"
#include "securebits_ptrace.h"
#include "userns.h"

namespace crc {
namespace {

bool ParseU64(const std::string& s, int base, uint64_t* out) {
  if (s.empty() || s.size() > (base == 16 ? 16u : 20u)) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    uint64_t next = v * base + d;
    if (base == 10 && next / 10 != v) return false;  // overflow
    v = next;
  }
  *out = v;
  return true;
}

// Whitespace-separated decimal fields; `exact` < 0 means any number of them (including none).
bool ParseList(const std::string& s, int exact, std::vector<uint64_t>* out) {
  size_t i = 0;
  out->clear();
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') j++;
    uint64_t v;
    if (!ParseU64(s.substr(i, j - i), 10, &v)) return false;
    out->push_back(v);
    i = j;
  }
  return exact < 0 || int(out->size()) == exact;
}

enum Key : unsigned {
  kState = 1u << 0, kTgid = 1u << 1, kPid = 1u << 2, kPPid = 1u << 3, kTracerPid = 1u << 4,
  kUid = 1u << 5, kGid = 1u << 6, kGroups = 1u << 7, kNStgid = 1u << 8, kNSpid = 1u << 9,
  kNSpgid = 1u << 10, kNSsid = 1u << 11, kCapInh = 1u << 12, kCapPrm = 1u << 13,
  kCapEff = 1u << 14, kCapBnd = 1u << 15,
};
constexpr unsigned kRequired = (1u << 16) - 1;
const char* const kKeyNames[] = {"State", "Tgid", "Pid", "PPid", "TracerPid", "Uid", "Gid",
                                 "Groups", "NStgid", "NSpid", "NSpgid", "NSsid", "CapInh",
                                 "CapPrm", "CapEff", "CapBnd"};

std::string ReadFileOr(const std::string& path, int* err) {
  *err = 0;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return "";
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      break;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  close(fd);
  return out;
}

}  // namespace

bool ParseProcStatus(const std::string& text, const std::string& path, int pid, ProcStatus* out,
                     Failure* f) {
  unsigned seen = 0;
  size_t pos = 0;
  int lineno = 0;
  std::vector<uint64_t> nums;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    lineno++;
    auto bad = [&](const std::string& why) {
      f->Coded("ERR_PROC_PARSE", path + ":" + std::to_string(lineno) + ": " + why + ": '" + line + "'", pid);
      return false;
    };
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return bad("not a 'Key: value' line");
    std::string key = line.substr(0, colon);
    std::string val = line.substr(colon + 1);
    size_t b = val.find_first_not_of(" \t");
    val = b == std::string::npos ? "" : val.substr(b);
    while (!val.empty() && (val.back() == ' ' || val.back() == '\t')) val.pop_back();

    auto one = [&](int* dst) {
      if (!ParseList(val, 1, &nums) || nums[0] > 0x7fffffff) return false;
      *dst = int(nums[0]);
      return true;
    };
    auto ints = [&](std::vector<int>* dst) {
      if (!ParseList(val, -1, &nums) || nums.empty()) return false;
      dst->clear();
      for (uint64_t v : nums) {
        if (v > 0x7fffffff) return false;
        dst->push_back(int(v));
      }
      return true;
    };
    auto ids = [&](uint32_t* dst) {
      if (!ParseList(val, 4, &nums)) return false;
      for (int i = 0; i < 4; i++) {
        if (nums[i] > 0xffffffffULL) return false;
        dst[i] = uint32_t(nums[i]);
      }
      return true;
    };
    auto hex = [&](uint64_t* dst) { return val.size() == 16 && ParseU64(val, 16, dst); };

    unsigned bit = 0;
    bool ok = true;
    if (key == "State") {
      bit = kState;
      ok = !val.empty() && val[0] >= 'A' && val[0] <= 'z';
      if (ok) out->state = val[0];
    } else if (key == "Tgid") { bit = kTgid; ok = one(&out->tgid); }
    else if (key == "Pid") { bit = kPid; ok = one(&out->pid); }
    else if (key == "PPid") { bit = kPPid; ok = one(&out->ppid); }
    else if (key == "TracerPid") { bit = kTracerPid; ok = one(&out->tracer_pid); }
    else if (key == "Uid") { bit = kUid; ok = ids(out->uid); }
    else if (key == "Gid") { bit = kGid; ok = ids(out->gid); }
    else if (key == "Groups") {
      bit = kGroups;
      ok = ParseList(val, -1, &nums);
      out->groups.clear();
      for (uint64_t v : nums) {
        if (v > 0xffffffffULL) ok = false;
        out->groups.push_back(uint32_t(v));
      }
    } else if (key == "NStgid") { bit = kNStgid; ok = ints(&out->nstgid); }
    else if (key == "NSpid") { bit = kNSpid; ok = ints(&out->nspid); }
    else if (key == "NSpgid") { bit = kNSpgid; ok = ints(&out->nspgid); }
    else if (key == "NSsid") { bit = kNSsid; ok = ints(&out->nssid); }
    else if (key == "CapInh") { bit = kCapInh; ok = hex(&out->cap_inh); }
    else if (key == "CapPrm") { bit = kCapPrm; ok = hex(&out->cap_prm); }
    else if (key == "CapEff") { bit = kCapEff; ok = hex(&out->cap_eff); }
    else if (key == "CapBnd") { bit = kCapBnd; ok = hex(&out->cap_bnd); }
    else if (key == "CapAmb") { ok = hex(&out->cap_amb); }  // 4.3+: optional
    else if (key == "NoNewPrivs") {  // 4.10+: optional
      ok = val == "0" || val == "1";
      out->no_new_privs = val == "1";
    }
    if (!ok) return bad("malformed '" + key + "' line");
    if (bit & seen) return bad("repeated '" + key + "' line");
    seen |= bit;
  }
  if (seen != kRequired) {
    for (int i = 0; i < 16; i++)
      if (!(seen & (1u << i))) {
        f->Coded("ERR_PROC_PARSE", path + ": no '" + kKeyNames[i] + "' line", pid);
        return false;
      }
  }
  return true;
}

bool ReadProcStatus(const std::string& path, int pid, ProcStatus* out, Failure* f) {
  int err;
  std::string text = ReadFileOr(path, &err);
  if (err != 0) {
    // A task that is gone shows as a missing directory, or as ESRCH from read.
    f->Errno("read " + path, err == ENOENT ? ESRCH : err, pid,
             err == ENOENT || err == ESRCH ? "no such process" : "");
    return false;
  }
  return ParseProcStatus(text, path, pid, out, f);
}

namespace {

enum class Unknown { kFail, kMark, kSkip };

struct LiveOptions {
  bool threads = false;
  Unknown unknown = Unknown::kFail;
  int test_delay_ms = 0;
  int self_securebits = -1;  // the calling thread's, read on the JS thread
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
  if (!ReadProcStatus("/proc/" + std::to_string(st.ppid) + "/status", st.ppid, &parent, &ignored))
    return 0;
  return parent.nspid.size() > level ? parent.nspid[level] : 0;
}

bool ReadLiveTask(int pid, const LiveOptions& o, LiveTask* t, Failure* f) {
  t->pid = pid;
  std::string base = "/proc/" + std::to_string(pid);
  LiveThread leader;
  leader.tid = pid;
  if (!ReadProcStatus(base + "/status", pid, &leader.st, f)) return false;
  if (leader.st.tgid != pid) {
    f->Errno("read " + base + "/status", ESRCH, pid, "not a process (a thread id of process " +
                                                          std::to_string(leader.st.tgid) + ")");
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
      if (!ReadProcStatus(base + "/task/" + std::to_string(tid) + "/status", pid, &th.st, &tf)) {
        if (tf.code.empty() && tf.err == ESRCH) continue;  // that thread exited meanwhile
        *f = tf;
        return false;
      }
      t->threads.push_back(std::move(th));
    }
  }
  struct stat st;
  if (stat((base + "/ns/user").c_str(), &st) != 0) {
    f->Errno("stat " + base + "/ns/user", errno == ENOENT ? ESRCH : errno, pid);
    return false;
  }
  t->userns_inode = st.st_ino;
  t->vppid = VirtualParentPid(t->threads[0].st);

  if (o.unknown == Unknown::kSkip) return true;
  auto refuse = [&](const std::string& why) {
    for (auto& th : t->threads) th.securebits_error = why;
  };
  if (pid == getpid()) {
    // Our own process cannot be traced by us: the calling thread's own prctl stands for the
    // process; other threads of ours stay unknown.
    t->threads[0].securebits = o.self_securebits;
    for (size_t i = 1; i < t->threads.size(); i++)
      t->threads[i].securebits_error = "a thread of the calling process";
  } else {
    SecurebitsRequest req;
    req.pid = pid;
    req.test_delay_ms = o.test_delay_ms;
    for (auto& th : t->threads) req.tids.push_back(th.tid);
    std::vector<int> values;
    Failure sf;
    if (ReadSecurebitsPtrace(req, &values, &sf)) {
      for (size_t i = 0; i < values.size(); i++) {
        t->threads[i].securebits = values[i];
        if (values[i] < 0) t->threads[i].securebits_error = "the thread exited";
      }
    } else {
      bool refused = sf.code == "ERR_UNSUPPORTED_ARCH" ||
                     (sf.code.empty() && (sf.err == EPERM || sf.err == EACCES) &&
                      sf.syscall == "ptrace(PTRACE_SEIZE)");
      if (!refused) {
        // A process that exits mid-checkpoint lands here: ESRCH, named by the step.
        *f = sf;
        return false;
      }
      refuse(FailureToString(sf));
    }
  }
  for (auto& th : t->threads) {
    if (th.securebits >= 0 || o.unknown == Unknown::kMark) continue;
    f->Coded("ERR_SECUREBITS_UNREADABLE",
             "securebits of pid " + std::to_string(pid) + " (thread " + std::to_string(th.tid) +
                 ") cannot be read: " + th.securebits_error +
                 "; allow unknown securebits to record them as unknown",
             pid);
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
  Napi::Object caps = Napi::Object::New(env);
  caps.Set("inheritable", Napi::BigInt::New(env, s.cap_inh));
  caps.Set("permitted", Napi::BigInt::New(env, s.cap_prm));
  caps.Set("effective", Napi::BigInt::New(env, s.cap_eff));
  caps.Set("bounding", Napi::BigInt::New(env, s.cap_bnd));
  caps.Set("ambient", Napi::BigInt::New(env, s.cap_amb));
  o.Set("caps", caps);
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

// readLiveTasks(pids, {threads?, unknownSecurebits?: 'fail'|'mark'|'skip', testDelayMs?})
Napi::Value ReadLiveTasksJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(env, "readLiveTasks(pids, options?): pids must be an array");
  auto pids = std::make_shared<std::vector<int>>();
  Napi::Array a = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() <= 0)
      throw Napi::TypeError::New(env, "readLiveTasks: every pid must be a positive number");
    pids->push_back(v.As<Napi::Number>().Int32Value());
  }
  LiveOptions o;
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
  }
  o.self_securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  auto tasks = std::make_shared<std::vector<LiveTask>>();
  return PromiseWorker::Start(
      env,
      [pids, o, tasks](Failure* f) {
        tasks->resize(pids->size());
        for (size_t i = 0; i < pids->size(); i++)
          if (!ReadLiveTask((*pids)[i], o, &(*tasks)[i], f)) return;
      },
      [tasks](Napi::Env env) {
        Napi::Array out = Napi::Array::New(env, tasks->size());
        for (size_t i = 0; i < tasks->size(); i++) out.Set(uint32_t(i), TaskToJs(env, (*tasks)[i]));
        return out;
      });
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

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readLiveTasks", Napi::Function::New(env, ReadLiveTasksJs, "readLiveTasks"));
  exports.Set("parseProcStatus", Napi::Function::New(env, ParseProcStatusJs, "parseProcStatus"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
