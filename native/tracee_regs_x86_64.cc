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
// The stub's `syscall` ends here: the program counter the kernel reports at its syscall stops.
constexpr uintptr_t kStubSyscallEnd = 12;

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

void StubBuild(const TraceeRegs& saved, uintptr_t at, unsigned char* code) {
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
  Put(p, {0x48, 0xb8});                        // mov rax, imm64
  Put64(p, rax);
  Put(p, {0x48, 0xbf});  // mov rdi, imm64
  Put64(p, s.rdi);
  Put(p, {0x48, 0xb9});  // mov rcx, imm64
  Put64(p, s.rcx);
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

bool RegsAtStubSyscall(const TraceeRegs& now, uintptr_t at) {
  return R(now).rip == at + kStubSyscallEnd && R(now).orig_rax == SYS_prctl;
}

long RegsSyscallResult(const TraceeRegs& now) { return static_cast<long>(R(now).rax); }

}  // namespace crc

#endif
