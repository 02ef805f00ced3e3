// tracee_regs.h on aarch64.
//
// The registers come in two regsets: NT_PRSTATUS (x0-x30, sp, pc, pstate) and
// NT_ARM_SYSTEM_CALL (the kernel's "in a syscall" mark, the syscall number, or -1). Both are
// read and written together: the mark decides whether the kernel treats the task's return to
// user space as a syscall's (and restarts it), so a task put back must get its own mark back.
//
// Restarts. Unlike x86-64, arm64 prepares a restart before the task's signal-delivery or
// interrupt stop (arch/arm64/kernel/signal.c, do_signal: "so that a debugger will see the
// already changed PC"): a task stopped in an interrupted call that the kernel restarts already
// has its pc back on its `svc`, x0 holding the call's first argument again and the mark cleared
// (syscallno -1). Which call it restarts is decided after the stop, only if the pc is still on
// that `svc`: restart_syscall (x8 set then) for a call that left a restart block (a relative
// sleep, a futex wait with a timeout: the time left is in the block), else the call itself. The
// registers at the stop cannot tell the two apart, so a task whose next instruction is an `svc`
// with no syscall marked is not sent to the stub: it is let go to that syscall's entry stop
// (the kernel has made its choice by then, in x8), where the call becomes the stub's prctl,
// returning into the stub; the registers put back are those of the `svc` with the kernel's x8,
// the restart block untouched. A task just about to make a syscall of its own, not restarting,
// looks the same and goes the same way: it makes its call afterwards.
#include "tracee_regs.h"

#if defined(__aarch64__)

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "raw_syscall.h"

namespace crc {
namespace {

#ifndef NT_ARM_SYSTEM_CALL
#define NT_ARM_SYSTEM_CALL 0x404
#endif
#ifndef NT_ARM_SSVE
#define NT_ARM_SSVE 0x40b
#endif
#ifndef NT_ARM_GCS
#define NT_ARM_GCS 0x410
#endif

// struct user_sve_header (asm/ptrace.h) as NT_ARM_SSVE gives it: SVE_PT_REGS_SVE in its flags
// when the task is in streaming mode (a syscall ends it: the stub's would).
struct SveHeader {
  uint32_t size;
  uint32_t max_size;
  uint16_t vl;
  uint16_t max_vl;
  uint16_t flags;
  uint16_t reserved;
};
constexpr uint16_t kSvePtRegsSve = 1;
// struct user_gcs (asm/ptrace.h): with PR_SHADOW_STACK_ENABLE, the stub's `ret` is checked
// against the guarded control stack and fails when the stub runs its own restores.
struct UserGcs {
  uint64_t features_enabled;
  uint64_t features_locked;
  uint64_t gcspr_el0;
};
constexpr uint64_t kShadowStackEnable = 1;

// struct user_pt_regs (asm/ptrace.h), then the syscall mark (NT_ARM_SYSTEM_CALL).
struct ArmRegs {
  uint64_t x[31];
  uint64_t sp;
  uint64_t pc;
  uint64_t pstate;
  int32_t syscallno;
};
static_assert(sizeof(ArmRegs) <= sizeof(TraceeRegs::raw), "TraceeRegs too small");
constexpr size_t kPtRegsBytes = offsetof(ArmRegs, syscallno);
static_assert(kPtRegsBytes == 34 * 8, "user_pt_regs is 34 words");

const ArmRegs& R(const TraceeRegs& r) { return *reinterpret_cast<const ArmRegs*>(r.raw); }
ArmRegs& R(TraceeRegs& r) { return *reinterpret_cast<ArmRegs*>(r.raw); }

constexpr uint64_t kPsrMode32 = 0x10;      // PSR_MODE32_BIT: an AArch32 task
constexpr uint64_t kPsrBtypeMask = 0xc00;  // PSR_BTYPE_MASK: the pending branch-target check

// The stub's layout (offsets from its start). The program counter at the prctl's syscall stops
// and at the signal-delivery-stop after the tgkill is the address after their `svc`.
constexpr uintptr_t kStubSyscallEnd = 12;
constexpr uintptr_t kStubSignalEnd = 48;
constexpr size_t kStubLiterals = 80;  // the restored values, 8-aligned
// Registers the stub changes and puts back, in the order of its literal pool. x17 (IP1, the
// linker's scratch register) carries the return address: it is the one register the stub
// cannot give back (see StubBuild).
constexpr int kRestored[] = {0, 1, 2, 3, 8, 17};
constexpr int kJumpReg = 17;
constexpr int kResultReg = 3;

constexpr uint32_t kSvc = 0xd4000001;      // svc #0
constexpr uint32_t kSvcMask = 0xffe0001f;  // svc #imm: any immediate makes the syscall
constexpr uint32_t kBrk = 0xd4200000;  // brk #0: never reached
uint32_t Movz(int rd, unsigned imm16) { return 0xd2800000u | (imm16 & 0xffff) << 5 | unsigned(rd); }
uint32_t MovReg(int rd, int rm) { return 0xaa0003e0u | unsigned(rm) << 16 | unsigned(rd); }  // orr rd, xzr, rm
uint32_t LdrLiteral(int rt, long bytes) { return 0x58000000u | (uint32_t(bytes / 4) & 0x7ffff) << 5 | unsigned(rt); }
uint32_t Branch(long bytes) { return 0x14000000u | (uint32_t(bytes / 4) & 0x3ffffff); }
uint32_t Ret(int rn) { return 0xd65f0000u | unsigned(rn) << 5; }

void Put(unsigned char* code, size_t at, uint32_t insn) { memcpy(code + at, &insn, 4); }

long RegSet(int tid, long request, int type, void* buf, size_t len) {
  struct iovec iov = {buf, len};
  return Sys(SYS_ptrace, request, tid, type, &iov);
}

}  // namespace

bool RegsSupported() { return true; }

long RegsGet(int tid, TraceeRegs* regs) {
  ArmRegs& r = R(*regs);
  if (long e = RegSet(tid, PTRACE_GETREGSET, NT_PRSTATUS, &r, kPtRegsBytes)) return e;
  return RegSet(tid, PTRACE_GETREGSET, NT_ARM_SYSTEM_CALL, &r.syscallno, sizeof r.syscallno);
}

long RegsSet(int tid, const TraceeRegs& regs) {
  ArmRegs r = R(regs);  // the regset calls take a non-const buffer
  if (long e = RegSet(tid, PTRACE_SETREGSET, NT_PRSTATUS, &r, kPtRegsBytes)) return e;
  return RegSet(tid, PTRACE_SETREGSET, NT_ARM_SYSTEM_CALL, &r.syscallno, sizeof r.syscallno);
}

bool RegsNative(const TraceeRegs& regs) { return (R(regs).pstate & kPsrMode32) == 0; }

void StubBuild(const TraceeRegs& saved, uintptr_t at, int signal, unsigned char* code) {
  const ArmRegs& s = R(saved);
  for (size_t off = 0; off < kStubBytes; off += 4) Put(code, off, kBrk);
  Put(code, 0, Movz(0, PR_GET_SECUREBITS));
  Put(code, 4, Movz(8, SYS_prctl));
  Put(code, 8, kSvc);  // x0: the result; nothing else changes (flags included)
  Put(code, 12, MovReg(kResultReg, 0));
  if (signal) {  // tgkill(getpid(), gettid(), signal): its own ids, in its own pid namespace
    Put(code, 16, Movz(8, SYS_gettid));
    Put(code, 20, kSvc);
    Put(code, 24, MovReg(1, 0));
    Put(code, 28, Movz(8, SYS_getpid));
    Put(code, 32, kSvc);
    Put(code, 36, Movz(2, unsigned(signal)));
    Put(code, 40, Movz(8, SYS_tgkill));
    Put(code, 44, kSvc);  // a stop here when traced
  } else {
    Put(code, 16, Branch(long(kStubSignalEnd) - 16));
  }
  // The restores: each register from the literal pool, then `ret` to where the task resumes.
  // There is no memory-indirect branch on arm64, so the return address travels in a register
  // (x17) whose own value is lost when the stub runs its restores itself (a tracer gone midway);
  // the tracer that sees the call through sets every register back. `ret` (not `br`) leaves no
  // branch-target check pending at the destination (BTI-guarded code).
  size_t pc = kStubSignalEnd;
  size_t lit = kStubLiterals;
  for (int reg : kRestored) {
    uint64_t v = reg == kJumpReg ? s.pc : s.x[reg];
    Put(code, pc, LdrLiteral(reg, long(lit) - long(pc)));
    memcpy(code + lit, &v, 8);
    pc += 4;
    lit += 8;
  }
  Put(code, pc, Ret(kJumpReg));
  static_assert(kStubSignalEnd + 4 * (sizeof kRestored / sizeof *kRestored + 1) <= kStubLiterals, "stub code overlaps its literals");
  static_assert(kStubLiterals + 8 * (sizeof kRestored / sizeof *kRestored) <= kStubBytes, "stub larger than its slot");
  (void)at;
}

void RegsPointAtStub(const TraceeRegs& saved, uintptr_t at, TraceeRegs* out) {
  *out = saved;
  ArmRegs& r = R(*out);
  r.pc = at;
  r.pstate &= ~kPsrBtypeMask;  // the stub is entered as if by a plain step, not a branch
  r.syscallno = -1;            // no restart of a syscall on the way to the stub
}

// The call a task last made is in x8 (the kernel does not change it): at a stop inside one of
// these, x8 names it. A task that made one and has run on since also matches: then the stub goes
// without its signal (two syscall stops instead of one), which is only slower.
bool RegsInMaskSwappingCall(const TraceeRegs& saved) {
  switch (static_cast<long>(R(saved).x[8])) {
    case SYS_rt_sigsuspend:
    case SYS_pselect6:
    case SYS_ppoll:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_io_pgetevents:
    case SYS_io_uring_enter:
      return true;
    default:
      return false;
  }
}

bool RegsSyscallAhead(int tid, const TraceeRegs& saved) {
  const ArmRegs& s = R(saved);
  if (s.syscallno != -1 || (s.pc & 3) != 0) return false;
  uint64_t word = 0;  // raw PTRACE_PEEKTEXT stores the word at `data`
  if (Sys(SYS_ptrace, PTRACE_PEEKTEXT, tid, s.pc, &word) != 0) return false;
  return (uint32_t(word) & kSvcMask) == kSvc;  // the instruction at pc (little-endian)
}

bool RegsTakeOverSyscall(const TraceeRegs& now, uintptr_t at, TraceeRegs* saved, TraceeRegs* out) {
  const ArmRegs& n = R(now);
  ArmRegs& s = R(*saved);
  if (n.pc != s.pc + 4 || n.syscallno < 0) return false;
  // Only x8 may differ from the stop's registers (restart_syscall); x7 reads as the stop's
  // direction marker here, so the rest come from the stop before.
  s.x[8] = n.x[8];
  *out = *saved;
  ArmRegs& o = R(*out);
  o.pc = at + kStubSyscallEnd;
  o.x[0] = PR_GET_SECUREBITS;
  o.x[8] = SYS_prctl;
  o.syscallno = SYS_prctl;  // the call made is the one the mark names (x8 was read before the stop)
  return true;
}

long RegsStubRefusal(int tid, const char** why) {
  *why = nullptr;
  // EINVAL: a kernel or CPU without the feature (the regset absent or refused).
  SveHeader sve = {};
  long e = RegSet(tid, PTRACE_GETREGSET, NT_ARM_SSVE, &sve, sizeof sve);
  if (e != 0 && e != -EINVAL && e != -ENODEV) return e;
  if (e == 0 && (sve.flags & kSvePtRegsSve)) {
    *why = "a thread in SME streaming mode (the injected syscall would end it)";
    return 0;
  }
  UserGcs gcs = {};
  e = RegSet(tid, PTRACE_GETREGSET, NT_ARM_GCS, &gcs, sizeof gcs);
  if (e != 0 && e != -EINVAL && e != -ENODEV) return e;
  if (e == 0 && (gcs.features_enabled & kShadowStackEnable)) {
    *why = "a thread with a guarded control stack (the stub's return would fail its check)";
    return 0;
  }
  return 0;
}

bool RegsAtStubSyscall(const TraceeRegs& now, uintptr_t at) {
  return R(now).pc == at + kStubSyscallEnd && R(now).x[8] == SYS_prctl;
}

long RegsSyscallResult(const TraceeRegs& now) { return static_cast<long>(R(now).x[0]); }

bool RegsAtStubSignal(const TraceeRegs& now, uintptr_t at) {
  return R(now).pc == at + kStubSignalEnd && R(now).x[8] == SYS_tgkill;
}

long RegsStubResult(const TraceeRegs& now) { return static_cast<long>(R(now).x[kResultReg]); }

}  // namespace crc

#endif
