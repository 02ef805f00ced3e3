// tracee_regs.h where no architecture file applies: securebits cannot be read over ptrace
// (ERR_UNSUPPORTED_ARCH). An architecture's own file (tracee_regs_x86_64.cc, tracee_regs_aarch64.cc)
// takes its place.
#include "tracee_regs.h"

#if !defined(__x86_64__) && !defined(__aarch64__)

#include <errno.h>

namespace crc {
bool RegsSupported() { return false; }
long RegsGet(int, TraceeRegs*) { return -ENOSYS; }
long RegsSet(int, const TraceeRegs&) { return -ENOSYS; }
bool RegsNative(const TraceeRegs&) { return false; }
void StubBuild(const TraceeRegs&, uintptr_t, int, unsigned char*) {}
void RegsPointAtStub(const TraceeRegs& saved, uintptr_t, TraceeRegs* out) { *out = saved; }
bool RegsInMaskSwappingCall(const TraceeRegs&) { return false; }
bool RegsSyscallAhead(int, const TraceeRegs&) { return false; }
bool RegsTakeOverSyscall(const TraceeRegs&, uintptr_t, TraceeRegs*, TraceeRegs*) { return false; }
long RegsStubRefusal(int, const char**) { return -ENOSYS; }
bool RegsAtStubSyscall(const TraceeRegs&, uintptr_t) { return false; }
long RegsSyscallResult(const TraceeRegs&) { return -ENOSYS; }
bool RegsAtStubSignal(const TraceeRegs&, uintptr_t) { return false; }
long RegsStubResult(const TraceeRegs&) { return -ENOSYS; }
}  // namespace crc


#endif
