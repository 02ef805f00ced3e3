/* The floor for scripts/bench-checkpoint.js: the least work that reads what checkpoint() reads
 * for one process, in plain C, no allocation in the loop.
 *
 *   floor proc PID N    N rounds of: /proc/PID/status read and parsed (ids, groups, caps,
 *                       NSpid...), stat of /proc/PID/ns/user and /proc/self/ns/user
 *   floor full PID N    the same plus securebits over ptrace, as the addon reads them: seize,
 *                       interrupt, a self-restoring stub written into the vDSO's padding
 *                       (/proc/PID/mem, opened once), the task pointed at it, run to the
 *                       stop of the SIGURG it sends itself after its prctl(PR_GET_SECUREBITS),
 *                       registers put back, detach (the signal taken), the padding put back
 *   floor bpf PID N     the reads of `proc` plus securebits by a BPF task iterator, as the addon's
 *                       BPF reader does (native/securebits_bpf.cc, without its checks: the
 *                       record's tgid, the probe): the program loaded once, then per round a link
 *                       for the thread, an iterator, one read
 *   floor step PID N    the same with the former method, which a killed tracer can leave
 *                       harmful: one `syscall` written at rip, registers set up, one single
 *                       step (for reference)
 *   floor tree N FANOUT a tree of N sleeping processes (fan-out FANOUT); prints "ready PID"
 *   floor list PID...   one round of `full` over each PID in turn (the floor of a tree's
 *                       checkpoint); prints the total microseconds
 *   floor bpflist PID... the same with `bpf`
 *   floor bpfall PID...  the reads of `proc` for each PID in turn, then every task's securebits
 *                       in one pass of the BPF iterator (as the addon reads a tree)
 *
 * Prints the median microseconds of one round.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

struct creds {
  unsigned uid[4], gid[4], groups[64];
  int ngroups, nspid;
  unsigned long long caps[5];
  int nnp;
};

static int read_status(const char *path, struct creds *c) {
  static char buf[8192];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (!strncmp(line, "Uid:", 4)) sscanf(line + 4, "%u %u %u %u", &c->uid[0], &c->uid[1], &c->uid[2], &c->uid[3]);
    else if (!strncmp(line, "Gid:", 4)) sscanf(line + 4, "%u %u %u %u", &c->gid[0], &c->gid[1], &c->gid[2], &c->gid[3]);
    else if (!strncmp(line, "Groups:", 7)) {
      char *p = line + 7, *end;
      c->ngroups = 0;
      for (;;) {
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || c->ngroups == 64) break;
        c->groups[c->ngroups++] = (unsigned)v;
        p = end;
      }
    } else if (!strncmp(line, "NSpid:", 6)) c->nspid = atoi(line + 6);
    else if (!strncmp(line, "CapInh:", 7)) c->caps[0] = strtoull(line + 7, NULL, 16);
    else if (!strncmp(line, "CapPrm:", 7)) c->caps[1] = strtoull(line + 7, NULL, 16);
    else if (!strncmp(line, "CapEff:", 7)) c->caps[2] = strtoull(line + 7, NULL, 16);
    else if (!strncmp(line, "CapBnd:", 7)) c->caps[3] = strtoull(line + 7, NULL, 16);
    else if (!strncmp(line, "CapAmb:", 7)) c->caps[4] = strtoull(line + 7, NULL, 16);
    else if (!strncmp(line, "NoNewPrivs:", 11)) c->nnp = atoi(line + 11);
  }
  return 0;
}

#if defined(__x86_64__)
static long securebits(pid_t pid) {
  int st;
  struct user_regs_struct saved, regs;
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0)) return -1;
  waitpid(pid, &st, __WALL);
  ptrace(PTRACE_GETREGS, pid, 0, &saved);
  errno = 0;
  long code = ptrace(PTRACE_PEEKTEXT, pid, (void *)saved.rip, 0);
  ptrace(PTRACE_POKETEXT, pid, (void *)saved.rip, (void *)((code & ~0xffffL) | 0x050f));
  regs = saved;
  regs.rax = SYS_prctl;
  regs.orig_rax = -1;
  regs.rdi = PR_GET_SECUREBITS;
  ptrace(PTRACE_SETREGS, pid, 0, &regs);
  ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
  waitpid(pid, &st, __WALL);
  ptrace(PTRACE_GETREGS, pid, 0, &regs);
  ptrace(PTRACE_POKETEXT, pid, (void *)saved.rip, (void *)code);
  ptrace(PTRACE_SETREGS, pid, 0, &saved);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return (long)regs.rax;
}
#elif defined(__aarch64__)
/* arm64: user_pt_regs (NT_PRSTATUS) and the syscall number (NT_ARM_SYSTEM_CALL) */
struct arm_regs { unsigned long long x[31], sp, pc, pstate; };
static long getregs(pid_t pid, struct arm_regs *r) {
  struct iovec iov = {r, sizeof *r};
  return ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov);
}
static long setregs(pid_t pid, struct arm_regs *r) {
  struct iovec iov = {r, sizeof *r};
  return ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov);
}
static void set_syscallno(pid_t pid, int nr) {
  struct iovec iov = {&nr, sizeof nr};
  ptrace(PTRACE_SETREGSET, pid, (void *)0x404 /* NT_ARM_SYSTEM_CALL */, &iov);
}
static long securebits(pid_t pid) {
  int st;
  struct arm_regs saved, regs;
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0)) return -1;
  waitpid(pid, &st, __WALL);
  getregs(pid, &saved);
  /* The `svc` goes after pc: left on pc (where a restart has put the task back on its own svc),
   * the kernel would still finish that restart as the task resumes (x8 = restart_syscall). */
  uintptr_t at = saved.pc + 4;
  errno = 0;
  long code = ptrace(PTRACE_PEEKTEXT, pid, (void *)at, 0);
  ptrace(PTRACE_POKETEXT, pid, (void *)at, (void *)((code & ~0xffffffffL) | 0xd4000001L));
  regs = saved;
  regs.pc = at;
  regs.x[8] = SYS_prctl;
  regs.x[0] = PR_GET_SECUREBITS;
  setregs(pid, &regs);
  set_syscallno(pid, -1);
  ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
  waitpid(pid, &st, __WALL);
  getregs(pid, &regs);
  ptrace(PTRACE_POKETEXT, pid, (void *)at, (void *)code);
  setregs(pid, &saved);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return (long)regs.x[0];
}
#endif

/* The zero-harm method (native/tracee_regs_x86_64.cc, tracee_regs_aarch64.cc), without the checks that handle signals,
 * threads and failures. */
static size_t stub_off;

static void stub_prepare(void) {
  const char *base = (const char *)getauxval(AT_SYSINFO_EHDR);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
  size_t end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
  stub_off = (end + 15) & ~(size_t)15;
}

static int mem_pid = -1, mem_fd = -1;
static uintptr_t mem_base;

static long securebits_safe(pid_t pid) {
  int st;
#if defined(__x86_64__)
  struct user_regs_struct saved, regs;
#endif
  if (mem_pid != pid) {
    char path[64];
    uint64_t aux[128];
    snprintf(path, sizeof path, "/proc/%d/auxv", pid);
    int fd = open(path, O_RDONLY);
    ssize_t n = read(fd, aux, sizeof aux);
    close(fd);
    for (ssize_t i = 0; i + 1 < n / 8; i += 2)
      if (aux[i] == AT_SYSINFO_EHDR) mem_base = aux[i + 1];
    snprintf(path, sizeof path, "/proc/%d/mem", pid);
    if (mem_fd >= 0) close(mem_fd);
    mem_fd = open(path, O_RDWR);
    mem_pid = pid;
  }
  if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) || ptrace(PTRACE_INTERRUPT, pid, 0, 0)) return -1;
  waitpid(pid, &st, __WALL);
  uintptr_t at = mem_base + stub_off;
#if defined(__aarch64__)
  /* the kernel has already set up a restart (pc on the svc): return to the registers as read */
  struct arm_regs asaved, aregs;
  unsigned char apristine[136];
  uint32_t acode[34];
  getregs(pid, &asaved);
  pread(mem_fd, apristine, sizeof apristine, at);
  const uint32_t ahead[] = {0xd2800000 | PR_GET_SECUREBITS << 5, 0xd2800008 | SYS_prctl << 5, 0xd4000001,
                            0xaa0003e3 /* mov x3, x0 */, 0xd2800008 | SYS_gettid << 5, 0xd4000001,
                            0xaa0003e1, 0xd2800008 | SYS_getpid << 5, 0xd4000001, 0xd2800002 | SIGURG << 5,
                            0xd2800008 | SYS_tgkill << 5, 0xd4000001};
  memcpy(acode, ahead, sizeof ahead);
  const int rs[] = {0, 1, 2, 3, 8, 17};
  for (int i = 0; i < 6; i++) {
    acode[12 + i] = 0x58000000 | (uint32_t)((80 + 8 * i - 4 * (12 + i)) / 4) << 5 | rs[i];
    unsigned long long v = rs[i] == 17 ? asaved.pc : asaved.x[rs[i]];
    memcpy((char *)acode + 80 + 8 * i, &v, 8);
  }
  acode[18] = 0xd65f0220; /* ret x17 */
  acode[19] = 0xd4200000;
  acode[32] = acode[33] = 0xd4200000;
  pwrite(mem_fd, acode, sizeof acode, at);
  aregs = asaved;
  aregs.pc = at;
  aregs.pstate &= ~0xc00ULL;
  setregs(pid, &aregs);
  set_syscallno(pid, -1);
  ptrace(PTRACE_CONT, pid, 0, 0);
  waitpid(pid, &st, __WALL);
  getregs(pid, &aregs);
  setregs(pid, &asaved);
  set_syscallno(pid, -1);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  pwrite(mem_fd, apristine, sizeof apristine, at);
  return (long)aregs.x[3];
#else
  ptrace(PTRACE_GETREGS, pid, 0, &saved);
  unsigned char pristine[136], code[136], *p = code;
  pread(mem_fd, pristine, sizeof pristine, at);
  unsigned long long rip = saved.rip, rax = saved.rax;
  if ((long long)saved.orig_rax >= 0 && (long)saved.rax >= -516 && (long)saved.rax <= -512) {
    rip -= 2;
    rax = (long)saved.rax == -516 ? SYS_restart_syscall : saved.orig_rax;
  }
  /* prctl, the result kept in r10, then tgkill(getpid(), gettid(), SIGURG): one stop */
  const unsigned char head[] = {0xbf, PR_GET_SECUREBITS, 0, 0, 0, 0xb8, SYS_prctl, 0, 0, 0, 0x0f, 0x05,
                                0x49, 0x89, 0xc2, 0xb8, SYS_gettid, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc6,
                                0xb8, SYS_getpid, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0xba, SIGURG, 0, 0, 0,
                                0xb8, SYS_tgkill, 0, 0, 0, 0x0f, 0x05};
  memcpy(p, head, sizeof head), p += sizeof head;
  unsigned long long vals[] = {rax, saved.rdi, saved.rsi, saved.rdx, saved.rcx, saved.r10, saved.r11};
  const unsigned char ops[][2] = {{0x48, 0xb8}, {0x48, 0xbf}, {0x48, 0xbe}, {0x48, 0xba}, {0x48, 0xb9}, {0x49, 0xba}, {0x49, 0xbb}};
  for (int i = 0; i < 7; i++) memcpy(p, ops[i], 2), memcpy(p + 2, &vals[i], 8), p += 10;
  const unsigned char jmp[] = {0xff, 0x25, 0, 0, 0, 0};
  memcpy(p, jmp, sizeof jmp), p += sizeof jmp;
  memcpy(p, &rip, 8), p += 8;
  pwrite(mem_fd, code, sizeof code, at);
  regs = saved;
  regs.rip = at;
  regs.orig_rax = -1;
  ptrace(PTRACE_SETREGS, pid, 0, &regs);
  ptrace(PTRACE_CONT, pid, 0, 0);
  waitpid(pid, &st, __WALL); /* SIGURG's delivery stop, taken from it below */
  ptrace(PTRACE_GETREGS, pid, 0, &regs);
  ptrace(PTRACE_SETREGS, pid, 0, &saved);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  pwrite(mem_fd, pristine, sizeof pristine, at);
  return (long)regs.r10;
#endif
}

/* The BPF reader: offsets from the kernel's BTF (no checks beyond what the kernel's verifier
 * makes), the program loaded once. */
static int bpf_prog = -1;

static size_t btf_trailer(const struct btf_type *t) {
  unsigned v = BTF_INFO_VLEN(t->info);
  switch (BTF_INFO_KIND(t->info)) {
    case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: return 4;
    case BTF_KIND_ARRAY: return 12;
    case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC: case BTF_KIND_ENUM64: return 12 * v;
    case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO: return 8 * v;
    default: return 0;
  }
}

static long btf_member(const struct btf_type *t, const char *strs, const char *name) {
  const struct btf_member *m = (const void *)(t + 1);
  for (unsigned i = 0; i < BTF_INFO_VLEN(t->info); i++)
    if (!strcmp(strs + m[i].name_off, name))
      return (BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset) / 8;
  return -1;
}

static int bpf_prepare(void) {
  static char btf[16 << 20];
  int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY);
  if (fd < 0) return -1;
  size_t len = 0;
  ssize_t n;
  while ((n = read(fd, btf + len, sizeof btf - len)) > 0) len += n;
  close(fd);
  const struct btf_header *h = (const void *)btf;
  const char *strs = btf + h->hdr_len + h->str_off, *p = btf + h->hdr_len + h->type_off, *end = p + h->type_len;
  unsigned id = 1, func = 0;
  long cred = -1, bits = -1, pid = -1;
  for (; p < end; id++) {
    const struct btf_type *t = (const void *)p;
    const char *name = strs + t->name_off;
    if (BTF_INFO_KIND(t->info) == BTF_KIND_FUNC && !strcmp(name, "bpf_iter_task")) func = id;
    if (BTF_INFO_KIND(t->info) == BTF_KIND_STRUCT && !strcmp(name, "task_struct") && cred < 0) {
      cred = btf_member(t, strs, "real_cred");
      pid = btf_member(t, strs, "pid");
    }
    if (BTF_INFO_KIND(t->info) == BTF_KIND_STRUCT && !strcmp(name, "cred") && bits < 0) bits = btf_member(t, strs, "securebits");
    p += sizeof *t + btf_trailer(t);
  }
  if (!func || cred < 0 || bits < 0 || pid < 0) return -1;
  struct bpf_insn prog[] = {
      {BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0},   {BPF_LDX | BPF_MEM | BPF_DW, 7, 6, 8, 0},
      {BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 11, 0},    {BPF_LDX | BPF_MEM | BPF_W, 2, 7, (short)pid, 0},
      {BPF_STX | BPF_MEM | BPF_W, 10, 2, -8, 0},   {BPF_LDX | BPF_MEM | BPF_DW, 3, 7, (short)cred, 0},
      {BPF_LDX | BPF_MEM | BPF_W, 4, 3, (short)bits, 0}, {BPF_STX | BPF_MEM | BPF_W, 10, 4, -4, 0},
      {BPF_LDX | BPF_MEM | BPF_DW, 1, 6, 0, 0},    {BPF_LDX | BPF_MEM | BPF_DW, 1, 1, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0},  {BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8},
      {BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 8},   {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_seq_write},
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},   {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_TRACING;
  a.expected_attach_type = BPF_TRACE_ITER;
  a.attach_btf_id = func;
  a.insns = (unsigned long)prog;
  a.insn_cnt = sizeof prog / sizeof prog[0];
  a.license = (unsigned long)"Dual MIT/GPL";
  bpf_prog = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
  return bpf_prog < 0 ? -1 : 0;
}

/* Every task's {pid, securebits}: one iterator over all tasks. Returns the bytes read. */
static long securebits_bpf_all(unsigned *out, size_t cap) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = bpf_prog;
  a.link_create.attach_type = BPF_TRACE_ITER;
  int link = syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof a);
  if (link < 0) return -1;
  memset(&a, 0, sizeof a);
  a.iter_create.link_fd = link;
  int iter = syscall(SYS_bpf, BPF_ITER_CREATE, &a, sizeof a);
  long have = 0, n = 0;
  while (iter >= 0 && (n = read(iter, (char *)out + have, cap - have)) > 0) have += n;
  if (iter >= 0) close(iter);
  close(link);
  return n < 0 || iter < 0 ? -1 : have;
}

static long securebits_bpf(pid_t tid) {
  union bpf_iter_link_info info;
  memset(&info, 0, sizeof info);
  info.task.tid = tid;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = bpf_prog;
  a.link_create.attach_type = BPF_TRACE_ITER;
  a.link_create.iter_info = (unsigned long)&info;
  a.link_create.iter_info_len = sizeof info;
  int link = syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof a);
  if (link < 0) return -1;
  memset(&a, 0, sizeof a);
  a.iter_create.link_fd = link;
  int iter = syscall(SYS_bpf, BPF_ITER_CREATE, &a, sizeof a);
  unsigned v[2] = {0, 0};
  long n = iter < 0 ? -1 : read(iter, v, sizeof v);
  if (iter >= 0) close(iter);
  close(link);
  return n == sizeof v ? (long)v[1] : -1;
}

static void tree(int n, int fanout) {
  int ready[2];
  if (pipe(ready)) exit(1);
  /* breadth-first numbering: process i's children are i*fanout+1 .. i*fanout+fanout */
  int me = 0;
  for (;;) {
    int made = 0;
    for (int k = 1; k <= fanout; k++) {
      int child = me * fanout + k;
      if (child >= n) break;
      pid_t p = fork();
      if (p < 0) exit(1);
      if (p == 0) {
        me = child;
        goto again;
      }
      made++;
    }
    if (write(ready[1], "x", 1) != 1) exit(1);
    if (me == 0) {
      char c;
      for (int i = 0; i < n; i++)
        if (read(ready[0], &c, 1) != 1) exit(1);
      printf("ready %d\n", getpid());
      fflush(stdout);
    }
    for (;;) pause();
  again:;
  }
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "tree")) {
    tree(atoi(argv[2]), atoi(argv[3]));
    return 0;
  }
  if (argc >= 3 && (!strcmp(argv[1], "list") || !strcmp(argv[1], "bpflist") || !strcmp(argv[1], "bpfall"))) {
    int bpf = !strcmp(argv[1], "bpflist"), all = !strcmp(argv[1], "bpfall");
    if (bpf || all ? bpf_prepare() : (stub_prepare(), 0)) return 3;
    struct creds c;
    struct stat st;
    char status[64], ns[64];
    double t0 = now_us();
    for (int i = 2; i < argc; i++) {
      pid_t pid = atoi(argv[i]);
      snprintf(status, sizeof status, "/proc/%d/status", pid);
      snprintf(ns, sizeof ns, "/proc/%d/ns/user", pid);
      if (read_status(status, &c) || stat(ns, &st) || stat("/proc/self/ns/user", &st)) return 1;
      if (!all && (bpf ? securebits_bpf(pid) : securebits_safe(pid)) < 0) return 1;
    }
    static unsigned every[1 << 20];
    if (all && securebits_bpf_all(every, sizeof every) <= 0) return 1;
    printf("%.1f\n", now_us() - t0);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: floor proc|full|bpf|step PID N | floor tree N FANOUT | floor list|bpflist PID...\n");
    return 2;
  }
  int full = !strcmp(argv[1], "full"), step = !strcmp(argv[1], "step"), bpf = !strcmp(argv[1], "bpf");
  stub_prepare();
  if (bpf && bpf_prepare()) return 3; /* no BPF reader here */
  pid_t pid = atoi(argv[2]);
  int n = atoi(argv[3]);
  char status[64], ns[64];
  snprintf(status, sizeof status, "/proc/%d/status", pid);
  snprintf(ns, sizeof ns, "/proc/%d/ns/user", pid);
  double *t = calloc(n, sizeof *t);
  struct creds c;
  struct stat st;
  long sb = 0;
  for (int i = 0; i < n; i++) {
    double t0 = now_us();
    if (read_status(status, &c) || stat(ns, &st) || stat("/proc/self/ns/user", &st)) return 1;
    if (full && (sb = securebits_safe(pid)) < 0) return 1;
    if (step && (sb = securebits(pid)) < 0) return 1;
    if (bpf && (sb = securebits_bpf(pid)) < 0) return 1;
    t[i] = now_us() - t0;
  }
  qsort(t, n, sizeof *t, cmp);
  printf("%.1f %u %ld\n", t[n / 2], c.uid[0], sb);
  return 0;
}
