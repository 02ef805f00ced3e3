// System calls for code that runs in the forked tracer (tracer.h): nothing of libc runs there
// (a fork of a multi-threaded process may find libc's locks held). Each call returns the
// kernel's answer: the result, or -errno.
#pragma once

namespace crc {

#if defined(__x86_64__)
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
#elif defined(__aarch64__)
inline long RawSyscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                       long f = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "raw_syscall.h: add this architecture's system call instruction"
#endif

template <typename A = long, typename B = long, typename C = long, typename D = long,
          typename E = long>
inline long Sys(long n, A a = 0, B b = 0, C c = 0, D d = 0, E e = 0) {
  return RawSyscall(n, (long)a, (long)b, (long)c, (long)d, (long)e);
}

}  // namespace crc
