#include "securebits_bpf.h"

#include <linux/version.h>

// The reader needs the uapi of 6.1 (the task iterator's link info, BTF's ENUM64). Built with
// older kernel headers it is there, never available (the ptrace reader serves).
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "unique_fd.h"

namespace crc {

const char kBpfReaderName[] = "bpf(task iterator)";

namespace {

const char kBtfPath[] = "/sys/kernel/btf/vmlinux";

// What the program needs of the running kernel, from its BTF.
struct KernelLayout {
  uint32_t iter_func = 0;     // the BTF id of bpf_iter_task, the program's attach point
  int32_t pid_offset = -1;    // of task_struct.pid
  int32_t tgid_offset = -1;   // of task_struct.tgid
  int32_t cred_offset = -1;   // of task_struct.real_cred
  int32_t bits_offset = -1;   // of cred.securebits
};

// Everything below, under g_mu, held only to look at or change it (a read runs with its own
// reference to the program, so a release never waits for one). Never destroyed: a pool thread
// may read while the process exits.
std::mutex& g_mu = *new std::mutex;
bool g_layout_found = false;
// The reader cannot be used, nor ever will in this process (the kernel is as it is): why.
bool g_lasting = false;
std::string& g_lasting_why = *new std::string;
KernelLayout g_layout;
std::shared_ptr<UniqueFd>& g_prog = *new std::shared_ptr<UniqueFd>;  // the loaded program

long Bpf(int cmd, union bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

std::string ErrnoText(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

// The bytes of the kernel's BTF. *lasting: a kernel without it (not a failure that may pass).
bool ReadBtf(std::vector<char>* out, std::string* why, bool* lasting) {
  UniqueFd fd(open(kBtfPath, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    *lasting = errno == ENOENT;
    *why = ErrnoText("open /sys/kernel/btf/vmlinux", errno);
    return false;
  }
  out->resize(8u << 20);
  size_t have = 0;
  for (;;) {
    if (have == out->size()) out->resize(out->size() * 2);
    ssize_t n = read(fd.get(), out->data() + have, out->size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = ErrnoText("read /sys/kernel/btf/vmlinux", errno);
      return false;
    }
    if (n == 0) break;
    have += size_t(n);
  }
  out->resize(have);
  return true;
}

// Bytes that follow a type's btf_type record, by kind (the BTF format's own table).
size_t TrailerBytes(const struct btf_type& t) {
  uint32_t vlen = BTF_INFO_VLEN(t.info);
  switch (BTF_INFO_KIND(t.info)) {
    case BTF_KIND_INT: return 4;
    case BTF_KIND_ARRAY: return sizeof(struct btf_array);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: return vlen * sizeof(struct btf_member);
    case BTF_KIND_ENUM: return vlen * sizeof(struct btf_enum);
    case BTF_KIND_FUNC_PROTO: return vlen * sizeof(struct btf_param);
    case BTF_KIND_VAR: return sizeof(struct btf_var);
    case BTF_KIND_DATASEC: return vlen * sizeof(struct btf_var_secinfo);
    case BTF_KIND_DECL_TAG: return sizeof(struct btf_decl_tag);
    case BTF_KIND_ENUM64: return vlen * sizeof(struct btf_enum64);
    default: return 0;  // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
  }
}

// Kinds this reader knows the size of; past them (a newer kernel's), the index would be wrong.
bool KnownKind(const struct btf_type& t) {
  int kind = BTF_INFO_KIND(t.info);
  return kind >= BTF_KIND_INT && kind <= BTF_KIND_ENUM64;
}

// The kernel's BTF, indexed: where each type's record starts.
struct Btf {
  const char* types = nullptr;
  size_t types_len = 0;
  const char* strings = nullptr;
  size_t strings_len = 0;
  std::vector<uint32_t> at;  // by type id (1 on; 0 is void)

  std::string_view Name(uint32_t off) const {
    if (off >= strings_len) return {};
    return std::string_view(strings + off, strnlen(strings + off, strings_len - off));
  }
  const struct btf_type* Type(uint32_t id) const {
    return id > 0 && id < at.size() ? reinterpret_cast<const struct btf_type*>(types + at[id]) : nullptr;
  }
};

bool IndexBtf(const std::vector<char>& raw, Btf* b, std::string* why) {
  struct btf_header h;
  if (raw.size() < sizeof h) {
    *why = "BTF too short";
    return false;
  }
  memcpy(&h, raw.data(), sizeof h);
  if (h.magic != BTF_MAGIC || h.hdr_len > raw.size() || h.type_off > raw.size() - h.hdr_len ||
      h.type_len > raw.size() - h.hdr_len - h.type_off || h.str_off > raw.size() - h.hdr_len ||
      h.str_len > raw.size() - h.hdr_len - h.str_off) {
    *why = "BTF header not understood";
    return false;
  }
  b->types = raw.data() + h.hdr_len + h.type_off;
  b->types_len = h.type_len;
  b->strings = raw.data() + h.hdr_len + h.str_off;
  b->strings_len = h.str_len;
  b->at.assign(1, 0);
  for (size_t off = 0; off < b->types_len;) {
    if (b->types_len - off < sizeof(struct btf_type)) {
      *why = "BTF types cut short";
      return false;
    }
    struct btf_type t;
    memcpy(&t, b->types + off, sizeof t);
    if (!KnownKind(t)) {
      *why = "BTF kind " + std::to_string(BTF_INFO_KIND(t.info)) + " not understood";
      return false;
    }
    size_t next = off + sizeof t + TrailerBytes(t);
    if (next > b->types_len) {
      *why = "BTF types cut short";
      return false;
    }
    b->at.push_back(uint32_t(off));
    off = next;
  }
  return true;
}

// The first type of `kind` named `name`; 0 if none.
uint32_t FindType(const Btf& b, int kind, std::string_view name) {
  for (uint32_t id = 1; id < b.at.size(); id++) {
    const struct btf_type* t = b.Type(id);
    if (int(BTF_INFO_KIND(t->info)) == kind && b.Name(t->name_off) == name) return id;
  }
  return 0;
}

// The type `id` stands for, through typedefs and qualifiers.
const struct btf_type* Resolve(const Btf& b, uint32_t id) {
  for (int i = 0; i < 16; i++) {
    const struct btf_type* t = b.Type(id);
    if (!t) return nullptr;
    switch (BTF_INFO_KIND(t->info)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG: id = t->type; continue;
      default: return t;
    }
  }
  return nullptr;
}

// The byte offset of member `name` of struct `id`, looking into anonymous structs and unions
// (where a layout randomized at build time, or a union, puts it); -1 if there is none or it is
// a bitfield. *type gets the member's type id.
long MemberOffset(const Btf& b, uint32_t id, std::string_view name, uint32_t* type, int depth = 0) {
  const struct btf_type* t = Resolve(b, id);
  if (!t || depth > 8) return -1;
  int kind = BTF_INFO_KIND(t->info);
  if (kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION) return -1;
  const auto* m = reinterpret_cast<const struct btf_member*>(t + 1);
  for (uint32_t i = 0; i < BTF_INFO_VLEN(t->info); i++) {
    uint32_t bits = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
    bool bitfield = BTF_INFO_KFLAG(t->info) && BTF_MEMBER_BITFIELD_SIZE(m[i].offset) != 0;
    if (m[i].name_off == 0) {
      long inner = MemberOffset(b, m[i].type, name, type, depth + 1);
      if (inner >= 0) return long(bits / 8) + inner;
    } else if (b.Name(m[i].name_off) == name) {
      if (bitfield || bits % 8 != 0) return -1;
      *type = m[i].type;
      return long(bits / 8);
    }
  }
  return -1;
}

// *lasting: what failed will fail again (the kernel's BTF is as it is), not a failure that may
// pass (no memory, no descriptor).
bool FindLayout(KernelLayout* l, std::string* why, bool* lasting) {
  std::vector<char> raw;
  *lasting = false;
  if (!ReadBtf(&raw, why, lasting)) return false;
  *lasting = true;
  Btf b;
  if (!IndexBtf(raw, &b, why)) return false;
  l->iter_func = FindType(b, BTF_KIND_FUNC, "bpf_iter_task");
  uint32_t task = FindType(b, BTF_KIND_STRUCT, "task_struct");
  uint32_t cred = FindType(b, BTF_KIND_STRUCT, "cred");
  if (!l->iter_func || !task || !cred) {
    *why = "the kernel's BTF has no task iterator, task_struct or cred";
    return false;
  }
  uint32_t cred_type = 0, bits_type = 0, pid_type = 0, tgid_type = 0;
  long pid_off = MemberOffset(b, task, "pid", &pid_type);
  long tgid_off = MemberOffset(b, task, "tgid", &tgid_type);
  const struct btf_type* pt = Resolve(b, pid_type);
  const struct btf_type* gt = Resolve(b, tgid_type);
  // The task's objective credentials, those /proc/PID/status shows (task->cred differs only
  // while the kernel acts for the task with others, override_creds).
  long cred_off = MemberOffset(b, task, "real_cred", &cred_type);
  long bits_off = MemberOffset(b, cred, "securebits", &bits_type);
  const struct btf_type* ct = Resolve(b, cred_type);
  const struct btf_type* bt = Resolve(b, bits_type);
  // A pointer and three 32-bit integers, within reach of an instruction's 16-bit offset.
  auto int32 = [](const struct btf_type* t) { return t && BTF_INFO_KIND(t->info) == BTF_KIND_INT && t->size == 4; };
  auto near = [](long off) { return off >= 0 && off <= 32767; };
  if (!near(cred_off) || !near(bits_off) || !near(pid_off) || !near(tgid_off) || !ct ||
      BTF_INFO_KIND(ct->info) != BTF_KIND_PTR || !int32(bt) || !int32(pt) || !int32(gt)) {
    *why = "task_struct.real_cred, .pid, .tgid or cred.securebits not as expected in the kernel's BTF";
    return false;
  }
  l->pid_offset = int32_t(pid_off);
  l->tgid_offset = int32_t(tgid_off);
  l->cred_offset = int32_t(cred_off);
  l->bits_offset = int32_t(bits_off);
  return true;
}

struct bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// The program loaded: its descriptor, or -errno (and *why). For each task the iterator visits
// (one, where the link names it; else every task), it writes
// {its pid, its tgid (the kernel's: of the initial pid namespace), its real_cred->securebits},
// three 32-bit words, to the iterator's output. ctx is struct bpf_iter__task { meta; task; },
// meta->seq the output.
int LoadProgram(const KernelLayout& l, std::string* why) {
  const uint8_t kMovX = BPF_ALU64 | BPF_MOV | BPF_X, kMovK = BPF_ALU64 | BPF_MOV | BPF_K;
  const uint8_t kLdxDw = BPF_LDX | BPF_MEM | BPF_DW, kLdxW = BPF_LDX | BPF_MEM | BPF_W;
  struct bpf_insn prog[] = {
      Insn(kMovX, 6, 1, 0, 0),                                // r6 = ctx
      Insn(kLdxDw, 7, 6, 8, 0),                               // r7 = ctx->task
      Insn(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 14, 0),           // no task: the end
      Insn(kLdxW, 2, 7, int16_t(l.pid_offset), 0),            // r2 = task->pid
      Insn(BPF_STX | BPF_MEM | BPF_W, 10, 2, -12, 0),         // on the stack
      Insn(kLdxW, 2, 7, int16_t(l.tgid_offset), 0),           // r2 = task->tgid
      Insn(BPF_STX | BPF_MEM | BPF_W, 10, 2, -8, 0),          // next to it
      Insn(kLdxDw, 3, 7, int16_t(l.cred_offset), 0),          // r3 = task->real_cred
      Insn(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 8, 0),            // none (a verifier may ask): the end
      Insn(kLdxW, 4, 3, int16_t(l.bits_offset), 0),           // r4 = cred->securebits
      Insn(BPF_STX | BPF_MEM | BPF_W, 10, 4, -4, 0),          // then it
      Insn(kLdxDw, 1, 6, 0, 0),                               // r1 = ctx->meta
      Insn(kLdxDw, 1, 1, 0, 0),                               // r1 = meta->seq
      Insn(kMovX, 2, 10, 0, 0),                               // r2 = the three words
      Insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -12),
      Insn(kMovK, 3, 0, 0, 12),                               // 12 bytes
      Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_seq_write),  //
      Insn(kMovK, 0, 0, 0, 0),                                // return 0
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_TRACING;
  a.expected_attach_type = BPF_TRACE_ITER;
  a.attach_btf_id = l.iter_func;
  a.insns = reinterpret_cast<uintptr_t>(prog);
  a.insn_cnt = sizeof prog / sizeof prog[0];
  // The kernel lends seq_write only to GPL-compatible programs; ours is MIT, which it accepts
  // in this form.
  a.license = reinterpret_cast<uintptr_t>("Dual MIT/GPL");
  strncpy(a.prog_name, "cr_creds_sb", sizeof a.prog_name - 1);
  // The verifier's last lines say why it refused, where it did.
  char log[4096] = "";
  a.log_buf = reinterpret_cast<uintptr_t>(log);
  a.log_size = sizeof log;
  a.log_level = 1;
  int fd = int(Bpf(BPF_PROG_LOAD, &a));
  if (fd < 0 && errno == ENOSPC) {  // the log overflowed: load again without one
    a.log_buf = 0;
    a.log_size = 0;
    a.log_level = 0;
    fd = int(Bpf(BPF_PROG_LOAD, &a));
  }
  if (fd < 0) {
    int err = errno;
    fd = -err;
    std::string_view text(log, strnlen(log, sizeof log));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    size_t line = text.rfind('\n');
    *why = ErrnoText("bpf(BPF_PROG_LOAD)", err) +
           (text.empty() ? "" : " (" + std::string(line == std::string_view::npos ? text : text.substr(line + 1)) + ")");
  }
  return fd;
}


// Runs the program `prog` over the thread `tid` (of our pid namespace), or over every task
// (tid 0), into *out. 0 or -errno.
int Run(int prog, int tid, std::vector<BpfTask>* out) {
  union bpf_iter_link_info info;
  memset(&info, 0, sizeof info);
  info.task.tid = uint32_t(tid);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = uint32_t(prog);
  a.link_create.attach_type = BPF_TRACE_ITER;
  if (tid != 0) {
    a.link_create.iter_info = reinterpret_cast<uintptr_t>(&info);
    a.link_create.iter_info_len = sizeof info;
  }
  UniqueFd link(int(Bpf(BPF_LINK_CREATE, &a)));
  if (!link) return -errno;
  memset(&a, 0, sizeof a);
  a.iter_create.link_fd = uint32_t(link.get());
  UniqueFd iter(int(Bpf(BPF_ITER_CREATE, &a)));
  if (!iter) return -errno;
  static_assert(sizeof(BpfTask) == 12, "the program's record");
  out->resize(tid != 0 ? 2 : 4096);  // one record (room for a second: the filter ignored)
  size_t have = 0;                   // bytes
  for (;;) {
    if (have == out->size() * sizeof(BpfTask)) out->resize(out->size() * 2);
    ssize_t n = read(iter.get(), reinterpret_cast<char*>(out->data()) + have, out->size() * sizeof(BpfTask) - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    have += size_t(n);
  }
  if (have % sizeof(BpfTask) != 0) return -EIO;
  out->resize(have / sizeof(BpfTask));
  return 0;
}

// Whether we are in the initial pid namespace, whose pids are the kernel's own (its inode
// number is fixed: PROC_PID_INIT_INO). Ours never changes (setns of a pid namespace is for the
// children to come).
bool InInitialPidNs() {
  static const bool initial = [] {
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == 0xEFFFFFFCu;
  }();
  return initial;
}

// Whether the task iterator of this kernel takes one thread by its tid, shown on a thread of ours
// other than the leader (kernels before 6.1 ignore the tid and visit every task; 6.1 to 6.11
// without the fix of 6.12 look the tid up as a process and find no other thread): 1 it does,
// 0 it does not (and *why), -errno when that could not be shown.
int TakesOneThread(int prog, std::string* why) {
  std::mutex m;
  std::condition_variable cv;
  int tid = 0;
  bool done = false;
  std::thread probe;
  try {
    probe = std::thread([&] {
      std::unique_lock<std::mutex> lock(m);
      tid = int(syscall(SYS_gettid));
      cv.notify_all();
      cv.wait(lock, [&] { return done; });
    });
  } catch (...) {
    *why = "no thread to try the task iterator on";
    return -EAGAIN;
  }
  std::vector<BpfTask> found;
  int r;
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return tid != 0; });
    try {
      r = Run(prog, tid, &found);
    } catch (...) {
      r = -ENOMEM;
    }
    done = true;
    cv.notify_all();
  }
  probe.join();
  if (r != 0) {
    *why = ErrnoText("bpf(task iterator) of one thread", -r);
    return r;
  }
  bool one = found.size() == 1 && (!InInitialPidNs() || (found[0].pid == uint32_t(tid) && found[0].tgid == uint32_t(getpid())));
  if (!one) *why = "this kernel's task iterator does not take one thread (6.1 and later do; 6.1 to 6.11 need the fix of 6.12)";
  return one ? 1 : 0;
}

// Whether we are in the initial user namespace, where capabilities count for BPF (its inode
// number is fixed: PROC_USER_INIT_INO). Node cannot leave the one it started in (it has threads).
bool InInitialUserNs() {
  static const bool initial = [] {
    struct stat st;
    return stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDu;
  }();
  return initial;
}

// Whether our effective capabilities still allow loading the program: what the kernel asked
// for at the load, asked of us again at every use (a capability of another user namespace, a
// container's root, does not count).
bool MayLoad() {
  if (!InInitialUserNs()) return false;
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &h, d) != 0) return false;
  uint64_t eff = d[0].effective | uint64_t(d[1].effective) << 32;
  auto has = [eff](int cap) { return (eff >> cap) & 1; };
  return has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
}

// The program, loaded if it is not (then tried on a thread of ours); null and *why when it
// cannot be used now.
std::shared_ptr<UniqueFd> Program(std::string* why) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!MayLoad()) {
    g_prog.reset();  // closed once the readers that hold it end
    *why = InInitialUserNs() ? "the caller lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"
                             : "the caller is in a user namespace of its own (BPF wants capabilities of the initial one)";
    return nullptr;
  }
  if (g_prog) return g_prog;
  if (g_lasting) {
    *why = g_lasting_why;
    return nullptr;
  }
  if (!g_layout_found) {
    bool lasting = false;
    if (!FindLayout(&g_layout, why, &lasting)) {
      g_lasting = lasting;
      if (lasting) g_lasting_why = *why;
      return nullptr;
    }
    g_layout_found = true;
  }
  int fd = LoadProgram(g_layout, why);
  if (fd < 0) {
    // Refused with the capabilities it asks for (a security module, a verifier of another
    // mind): so it stays, rather than a refused load, which monitors report, at every call.
    g_lasting = true;
    g_lasting_why = *why;
    return nullptr;
  }
  auto prog = std::make_shared<UniqueFd>(fd);
  int one = TakesOneThread(prog->get(), why);
  if (one == 0) {
    g_lasting = true;
    g_lasting_why = *why;
  }
  if (one != 1) return nullptr;
  g_prog = prog;
  return g_prog;
}

}  // namespace

bool SecurebitsBpfReader::Open(std::string* why) {
  prog_ = Program(why);
  return prog_ != nullptr;
}

int SecurebitsBpfReader::Read(int tid, int tgid, uint32_t* value) const {
  if (!prog_ || !MayLoad()) return -EPERM;
  if (tid <= 0) return -ESRCH;
  std::vector<BpfTask> found;
  if (int r = Run(prog_->get(), tid, &found)) return r;
  // No such thread: the iterator visited none. In the initial pid namespace the record names
  // the task it read: another process's (the tid taken again since /proc was read) is not it.
  if (found.size() != 1) return -ESRCH;
  if (InInitialPidNs() && (found[0].pid != uint32_t(tid) || found[0].tgid != uint32_t(tgid))) return -ESRCH;
  *value = found[0].securebits;
  return 0;
}

int SecurebitsBpfReader::ReadAll(std::vector<BpfTask>* all) const {
  if (!prog_ || !MayLoad()) return -EPERM;
  if (!InInitialPidNs()) return -EXDEV;
  if (int r = Run(prog_->get(), 0, all)) return r;
  std::sort(all->begin(), all->end(), [](const BpfTask& a, const BpfTask& b) { return a.pid < b.pid; });
  return 0;
}

void SecurebitsBpfRelease() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_prog.reset();  // closed once the readers that hold it end
}

}  // namespace crc

#else  // kernel headers before 6.1

#include <errno.h>

namespace crc {

const char kBpfReaderName[] = "bpf(task iterator)";

bool SecurebitsBpfReader::Open(std::string* why) {
  *why = "cr-creds was built with kernel headers older than 6.1";
  return false;
}

int SecurebitsBpfReader::Read(int, int, uint32_t*) const { return -EPERM; }

int SecurebitsBpfReader::ReadAll(std::vector<BpfTask>*) const { return -EPERM; }

void SecurebitsBpfRelease() {}

}  // namespace crc

#endif
