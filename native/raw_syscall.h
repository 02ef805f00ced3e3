// System calls for code that runs in the tracer process (tracer.cc), which shares our memory but
// not our threads: it must not write any thread's errno, so it never goes through libc's
// wrappers. Each call returns the kernel's answer: the result, or -errno.
#pragma once

#if defined(__x86_64__)

namespace crc {

inline long RawSyscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                       long f = 0) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

template <typename A = long, typename B = long, typename C = long, typename D = long>
inline long Sys(long n, A a = 0, B b = 0, C c = 0, D d = 0, long e = 0) {
  return RawSyscall(n, (long)a, (long)b, (long)c, (long)d, e);
}

}  // namespace crc

#endif
