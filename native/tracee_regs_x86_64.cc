// tracee_regs.h on x86-64.
#include "tracee_regs.h"

#if defined(__x86_64__)

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>

#include <initializer_list>
#include <utility>

#include "raw_syscall.h"

namespace crc {
namespace {

static_assert(sizeof(user_regs_struct) <= sizeof(TraceeRegs::raw), "TraceeRegs too small");

const user_regs_struct& R(const TraceeRegs& r) { return *reinterpret_cast<const user_regs_struct*>(r.raw); }
user_regs_struct& R(TraceeRegs& r) { return *reinterpret_cast<user_regs_struct*>(r.raw); }

// The kernel's restart codes (include/linux/errno.h, not exported to user space).
constexpr long kErestartSys = 512, kErestartNoIntr = 513, kErestartNoHand = 514,
               kErestartRestartBlock = 516;
constexpr unsigned long long kUserCs64 = 0x33;
// Where the stub's prctl `syscall` ends (the program counter at its syscall stops), and where
// its tgkill `syscall` ends (the program counter at the signal-delivery-stop that follows).
constexpr uintptr_t kStubSyscallEnd = 12;
constexpr uintptr_t kStubSignalEnd = 45;

void Put(unsigned char*& p, std::initializer_list<unsigned char> bytes) {
  for (unsigned char b : bytes) *p++ = b;
}
void Put64(unsigned char*& p, unsigned long long v) {
  memcpy(p, &v, 8);
  p += 8;
}

}  // namespace

bool RegsSupported() { return true; }

long RegsGet(int tid, TraceeRegs* regs) { return Sys(SYS_ptrace, PTRACE_GETREGS, tid, 0, regs->raw); }
long RegsSet(int tid, const TraceeRegs& regs) { return Sys(SYS_ptrace, PTRACE_SETREGS, tid, 0, regs.raw); }

bool RegsNative(const TraceeRegs& regs) { return R(regs).cs == kUserCs64; }

void StubBuild(const TraceeRegs& saved, uintptr_t at, int signal, unsigned char* code) {
  const user_regs_struct& s = R(saved);
  // Where the task resumes, with what in rax. A task stopped inside a syscall that the kernel
  // would restart on resuming sits after its `syscall` with a restart code in rax: the restart
  // is baked in (rip back on the `syscall`, rax the call's number again, or restart_syscall),
  // and the kernel's own restart is switched off (orig_rax -1, RegsPointAtStub).
  unsigned long long rip = s.rip, rax = s.rax;
  if (static_cast<long long>(s.orig_rax) >= 0) {
    long err = -static_cast<long>(s.rax);
    if (err == kErestartSys || err == kErestartNoIntr || err == kErestartNoHand) {
      rip -= 2;
      rax = s.orig_rax;
    } else if (err == kErestartRestartBlock) {
      rip -= 2;
      rax = SYS_restart_syscall;
    }
  }
  unsigned char* p = code;
  Put(p, {0xbf, PR_GET_SECUREBITS, 0, 0, 0});  // mov edi, PR_GET_SECUREBITS
  Put(p, {0xb8, SYS_prctl, 0, 0, 0});          // mov eax, SYS_prctl
  Put(p, {0x0f, 0x05});                        // syscall (clobbers rcx, r11; keeps rflags)
  Put(p, {0x49, 0x89, 0xc2});                  // mov r10, rax: the result, kept
  if (signal) {  // tgkill(getpid(), gettid(), signal): its own ids, in its own pid namespace
    Put(p, {0xb8, SYS_gettid, 0, 0, 0});                   // mov eax, SYS_gettid
    Put(p, {0x0f, 0x05});                                  // syscall
    Put(p, {0x89, 0xc6});                                  // mov esi, eax
    Put(p, {0xb8, SYS_getpid, 0, 0, 0});                   // mov eax, SYS_getpid
    Put(p, {0x0f, 0x05});                                  // syscall
    Put(p, {0x89, 0xc7});                                  // mov edi, eax
    Put(p, {0xba, static_cast<unsigned char>(signal), 0, 0, 0});  // mov edx, signal
    Put(p, {0xb8, static_cast<unsigned char>(SYS_tgkill), 0, 0, 0});  // mov eax, SYS_tgkill
    Put(p, {0x0f, 0x05});                                  // syscall: a stop here when traced
  } else {
    Put(p, {0xeb, static_cast<unsigned char>(kStubSignalEnd - 17)});  // jmp to the restores
    memset(p, 0xcc, code + kStubSignalEnd - p);
    p = code + kStubSignalEnd;
  }
  for (auto [op, v] : {std::pair<unsigned char, unsigned long long>{0xb8, rax}, {0xbf, s.rdi}, {0xbe, s.rsi},
                       {0xba, s.rdx}, {0xb9, s.rcx}}) {
    Put(p, {0x48, op});  // mov r64, imm64
    Put64(p, v);
  }
  Put(p, {0x49, 0xba});  // mov r10, imm64
  Put64(p, s.r10);
  Put(p, {0x49, 0xbb});  // mov r11, imm64
  Put64(p, s.r11);
  Put(p, {0xff, 0x25, 0, 0, 0, 0});  // jmp [rip+0]: the address that follows
  Put64(p, rip);
  memset(p, 0xcc, kStubBytes - size_t(p - code));  // never reached
  (void)at;
}

void RegsPointAtStub(const TraceeRegs& saved, uintptr_t at, TraceeRegs* out) {
  *out = saved;
  R(*out).rip = at;
  R(*out).orig_rax = static_cast<unsigned long long>(-1);
}

bool RegsInMaskSwappingCall(const TraceeRegs& saved) {
  switch (static_cast<long>(R(saved).orig_rax)) {
    case SYS_rt_sigsuspend:
    case SYS_pselect6:
    case SYS_ppoll:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
    case SYS_io_pgetevents:
    case SYS_io_uring_enter:
      return true;
    default:
      return false;
  }
}

bool RegsSyscallAhead(int, const TraceeRegs&) { return false; }

bool RegsTakeOverSyscall(const TraceeRegs&, uintptr_t, TraceeRegs*, TraceeRegs*) { return false; }

long RegsStubRefusal(int, const char** why) {
  *why = nullptr;
  return 0;
}

bool RegsAtStubSyscall(const TraceeRegs& now, uintptr_t at) {
  return R(now).rip == at + kStubSyscallEnd && R(now).orig_rax == SYS_prctl;
}

long RegsSyscallResult(const TraceeRegs& now) { return static_cast<long>(R(now).rax); }

bool RegsAtStubSignal(const TraceeRegs& now, uintptr_t at) {
  return R(now).rip == at + kStubSignalEnd && R(now).orig_rax == SYS_tgkill;
}

long RegsStubResult(const TraceeRegs& now) { return static_cast<long>(R(now).r10); }

}  // namespace crc

#endif
