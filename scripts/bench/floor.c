/* The floor for scripts/bench-checkpoint.js: the least work that reads what checkpoint() reads
 * for one process, in plain C, no allocation in the loop.
 *
 *   floor proc PID N    N rounds of: /proc/PID/status read and parsed (ids, groups, caps,
 *                       NSpid...), stat of /proc/PID/ns/user and /proc/self/ns/user
 *   floor full PID N    the same plus securebits over ptrace (seize, interrupt, inject
 *                       prctl(PR_GET_SECUREBITS), single step, restore, detach)
 *   floor tree N FANOUT a tree of N sleeping processes (fan-out FANOUT); prints "ready PID"
 *   floor list PID...   one round of `full` over each PID in turn (the floor of a tree's
 *                       checkpoint); prints the total microseconds
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
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
  if (argc >= 3 && !strcmp(argv[1], "list")) {
    struct creds c;
    struct stat st;
    char status[64], ns[64];
    double t0 = now_us();
    for (int i = 2; i < argc; i++) {
      pid_t pid = atoi(argv[i]);
      snprintf(status, sizeof status, "/proc/%d/status", pid);
      snprintf(ns, sizeof ns, "/proc/%d/ns/user", pid);
      if (read_status(status, &c) || stat(ns, &st) || stat("/proc/self/ns/user", &st)) return 1;
      if (securebits(pid) < 0) return 1;
    }
    printf("%.1f\n", now_us() - t0);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: floor proc|full PID N | floor tree N FANOUT | floor list PID...\n");
    return 2;
  }
  int full = !strcmp(argv[1], "full");
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
    if (full && (sb = securebits(pid)) < 0) return 1;
    t[i] = now_us() - t0;
  }
  qsort(t, n, sizeof *t, cmp);
  printf("%.1f %u %ld\n", t[n / 2], c.uid[0], sb);
  return 0;
}
