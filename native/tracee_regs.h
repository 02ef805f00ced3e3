// What the tracer needs of a tracee's registers, behind one small interface: every
// architecture-specific detail (register layout, the syscall instruction, the kernel's restart
// rules, the stub's machine code) lives in one file per architecture (tracee_regs_x86_64.cc).
//
// The securebits are read by running prctl(PR_GET_SECUREBITS) inside the task through a stub: a
// few instructions written into unused bytes of the task's vDSO with the task's own register
// values baked in. The task's only register changes are its program counter (pointed at the
// stub) and the "in a syscall" mark; the stub makes the call, then puts back every register it
// changed and jumps to where the task would have resumed (its interrupted syscall restarted as
// the kernel would restart it). Where a syscall is ahead (RegsSyscallAhead), the task makes it
// first and, at its entry stop, that call becomes the stub's prctl returning into the stub (its
// number and first argument changed too). So a tracer that vanishes at any moment leaves a task
// that either never entered the stub or runs it to the end and carries on unharmed.
//
// The tracer learns the result at a stop after the call. With a signal the task neither blocks
// nor handles (its default action: ignore), the stub sends it that signal after the call (the
// result kept in a register): one signal-delivery-stop, which the tracer takes the signal from;
// untraced, the signal is discarded as it is sent. Without such a signal, the tracer stops the
// task at the call's syscall-entry and -exit stops (two stops).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace crc {

// A stopped tracee's general registers, as the architecture lays them out.
struct TraceeRegs {
  alignas(16) unsigned char raw[512];
};

// Room for the stub (bytes, a multiple of 8).
constexpr size_t kStubBytes = 136;

// Whether this architecture has the interface below (false: securebits cannot be read).
bool RegsSupported();

// PTRACE_GETREGS / PTRACE_SETREGS: 0 or -errno. Raw system calls only (see raw_syscall.h).
long RegsGet(int tid, TraceeRegs* regs);
long RegsSet(int tid, const TraceeRegs& regs);

// Whether the task runs the native instruction set (a 32-bit task is not supported).
bool RegsNative(const TraceeRegs& regs);

// Writes into `code` (kStubBytes) the stub for a task whose registers are `saved`, to be placed
// at address `at`; `signal`: the one it sends itself after the call (0: none).
void StubBuild(const TraceeRegs& saved, uintptr_t at, int signal, unsigned char* code);

// `saved` pointed at the stub at `at`: the registers to set (one PTRACE_SETREGS).
void RegsPointAtStub(const TraceeRegs& saved, uintptr_t at, TraceeRegs* out);

// Whether the task sits in a call that swapped its signal mask for the call's duration (the
// kernel puts the task's own mask back before it runs the stub: the mask read now is not the
// one the stub runs with).
bool RegsInMaskSwappingCall(const TraceeRegs& saved);

// Whether the task's next instruction is a syscall to be made before the stub runs: where the
// kernel decides how an interrupted call restarts (restart_syscall or the call itself) only as
// the task leaves its stop (aarch64), the registers at the stop cannot tell, so the task is let
// go to that syscall's entry stop (PTRACE_SYSCALL), where RegsTakeOverSyscall makes it the
// stub's call. False where the stub itself restarts the call (x86-64).
bool RegsSyscallAhead(int tid, const TraceeRegs& saved);

// At the entry stop of that syscall (registers `now`): updates `saved` to the registers to put
// back (on the syscall instruction, with the call the kernel issued), and sets `out` (one
// PTRACE_SETREGS) to make it the stub's prctl, returning into the stub as if made there. False
// if the stop is not that syscall's.
bool RegsTakeOverSyscall(const TraceeRegs& now, uintptr_t at, TraceeRegs* saved, TraceeRegs* out);

// Whether the stub must not run in the task: 0 with *why null if it may, 0 with *why the state
// the stub would break (a thread in SME streaming mode, a guarded control stack), or -errno.
long RegsStubRefusal(int tid, const char** why);

// Whether a syscall stop with registers `now` is the stub's own call (at entry or exit).
bool RegsAtStubSyscall(const TraceeRegs& now, uintptr_t at);

// The result of the call at its syscall-exit stop: the value, or -errno.
long RegsSyscallResult(const TraceeRegs& now);

// Whether a signal-delivery-stop with registers `now` comes after the stub's signal was sent
// (the call made); then the call's result (the value, or -errno).
bool RegsAtStubSignal(const TraceeRegs& now, uintptr_t at);
long RegsStubResult(const TraceeRegs& now);

}  // namespace crc
