// Everything a restart child needs, laid out before fork() as plain data (no pointers into the
// JS heap, no containers the child would have to grow). The child (spawn_child.cc) only reads it.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "cred_state.h"

namespace crc {

// One CredOp (lib/model/ops.ts) as POD. Ids are int64 so -1 ("unchanged") survives.
enum class OpKind : int32_t {
  kSetresuid = 1,
  kSetresgid,
  kSetfsuid,
  kSetfsgid,
  kSetgroups,
  kCapset,
  kSetSecurebits,
  kSetKeepcaps,
  kCapbsetDrop,
  kAmbientRaise,
  kAmbientLower,
  kAmbientClearAll,
  kSetNoNewPrivs,
  kUnshareUser,
  // The linux-cr path: the child restores itself from an image fd (see SysRestart in the plan).
  kSysRestart,
};

struct OpRec {
  OpKind kind;
  int32_t setgroups;  // unshare_user: 0 leave, 1 allow, 2 deny
  int64_t a, b, c;    // ids / cap number / bits / on
  uint64_t inheritable, permitted, effective;
  uint32_t groups_off, groups_len;  // setgroups: slice of Plan::gids
  uint32_t uid_off, uid_len;        // unshare_user: slices of Plan::maps (0 len: unwritten)
  uint32_t gid_off, gid_len;
  uint32_t uid_helper, gid_helper;  // unshare_user: 1 + index into Plan::helpers (0: no helper)
};

// What the child compares after the ops; a clear bit in `mask` skips that field.
enum VerifyField : int32_t {
  kVUid = 0, kVEuid, kVSuid, kVFsuid, kVGid, kVEgid, kVSgid, kVFsgid, kVGroups,
  kVInheritable, kVPermitted, kVEffective, kVBounding, kVAmbient, kVSecurebits, kVNoNewPrivs,
  kVFieldCount
};

// Where a failure happened, for the record sent back over the error pipe.
enum class Phase : int32_t {
  kOp = 1,      // ops[step] failed; field: 0, or a MapFile for unshare_user
  kVerify = 2,  // read-back differs; field: VerifyField (or -1: the read itself failed)
  kStdio = 3,   // field: the child fd
  kChdir = 4,
  kExecve = 5,
  kSignals = 6,
  kDieWithParent = 7,  // prctl(PR_SET_PDEATHSIG) failed
};

// kMapHelper: the map writer process itself failed; kMapNewuidmap / kMapNewgidmap: the helper
// program it ran (ErrorRecord.got: its wait status, or kNoWaitStatus when it could not be run).
enum MapFile : int32_t { kMapNone = 0, kMapUnshare, kMapSetgroups, kMapUid, kMapGid, kMapHelper, kMapNewuidmap, kMapNewgidmap };
constexpr uint64_t kNoWaitStatus = ~uint64_t(0);

struct ErrorRecord {
  int32_t phase;
  int32_t step;
  int32_t err;
  int32_t field;
  uint64_t want, got;  // verify: the field's expected and actual value (groups: counts)
};

// The linux-cr restart syscall (or its stand-in, for tests on kernels without it).
struct SysRestart {
  bool stand_in = false;   // call StandInRestart() instead of the syscall
  int32_t stand_in_errno = 0;
  long nr = -1;            // syscall number, only when !stand_in
  bool kernel_has_it = false;  // /proc/kallsyms showed sys_restart (checked before fork)
  int image_fd = -1;       // memfd holding the image
  unsigned long flags = 0;
};

// A newuidmap / newgidmap command line, laid out before fork: `PATH PID inside outside count ...`.
// argv[1] is a fixed slot the map writer fills with the child's pid (in its own copy of memory).
struct HelperCmd {
  static constexpr size_t kPidSlot = 12;  // digits of a pid (pid_max <= 2^22) and the NUL
  std::string text;         // the argv strings, NUL-separated; never changed after argv is set
  std::vector<char*> argv;  // NULL-terminated, into text
};

struct Plan {
  std::vector<OpRec> ops;
  std::vector<uint32_t> gids;
  std::string maps;  // formatted uid_map / gid_map texts, sliced by OpRec
  std::vector<std::unique_ptr<HelperCmd>> helpers;  // map helpers, indexed by OpRec
  // execve candidates (PATH already searched in JS); tried in order while ENOENT/EACCES.
  std::vector<std::string> files;
  std::vector<std::string> argv_s, envp_s;
  std::vector<char*> argv, envp;  // NULL-terminated, point into *_s
  std::string cwd;
  // Source fd for child fd i (i itself: inherit; -1: leave as is), one entry per child fd.
  std::vector<int> stdio;
  // Scratch the child moves the sources into (sized before fork: no allocation in the child).
  mutable std::vector<int> stdio_work;
  // setsid() in the child: a session and process group of its own (spawn's `detached`).
  bool detached = false;
  uint32_t verify_mask = 0;
  CredState* expect = nullptr;   // owned by the caller, allocated before fork
  CredState* readback = nullptr; // idem
  SysRestart restart;
  // Die with the parent: PR_SET_PDEATHSIG(SIGKILL) right before execve, and the parent's pid
  // (getpid() before fork) to tell whether it died before the signal was armed.
  bool die_with_parent = false;
  pid_t parent_pid = 0;
};

// One user-namespace level (userns_setup.cc).
struct UnshareJob {
  int32_t setgroups;  // 0 leave, 1 allow, 2 deny
  const char* uid_map;
  size_t uid_len;  // 0: leave unwritten
  const char* gid_map;
  size_t gid_len;
  const HelperCmd* uid_helper;  // non-null: newuidmap writes uid_map (uid_map text unused)
  const HelperCmd* gid_helper;  // non-null: newgidmap writes gid_map
};

// unshare(CLONE_NEWUSER) for the calling (single-threaded) process, with setgroups and the maps
// written by a map writer left in the parent level (itself, or through newuidmap / newgidmap).
// Returns 0 or -errno, with *file the MapFile that failed and, for a helper program, *status
// its wait status (kNoWaitStatus: it could not be run). Async-signal-safe.
int UnshareUserLevel(const UnshareJob& job, int* file, uint64_t* status);

// Performs one op in the calling (forked, single-threaded) process: 0 or -errno, with *field
// the MapFile that failed for unshare_user and *detail a map helper's wait status
// (spawn_child.cc). Async-signal-safe.
int ApplyOp(const Plan& plan, const OpRec& op, int* field, uint64_t* detail = nullptr);

// Default dispositions for every signal and an empty mask, as a program must start (Node ignores
// SIGPIPE and the parent blocks every signal around fork). 0 or -errno. Async-signal-safe.
int ResetSignals();

// Runs in the forked child: applies the plan and execs. Never returns; on failure writes an
// ErrorRecord to err_fd and exits 127. Async-signal-safe.
[[noreturn]] void RunChild(const Plan& plan, int err_fd);

}  // namespace crc
