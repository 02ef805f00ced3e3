/* credproc: a process that puts itself into known credentials, says "ready PID" on stdout and
 * blocks, for the checkpoint tests. Steps run in the order the kernel needs them (bounding and
 * securebits need CAP_SETPCAP, so they come before the uid change).
 *
 *   --bounding-drop=HEX  --securebits=N  --groups=a,b,c  --gids=r,e,s,fs  --uids=r,e,s,fs
 *   --caps=INH,PRM,EFF (hex)  --ambient=HEX  --nnp  --thread-eff=HEX (a second thread lowers
 *   its own effective set)  --nest=N (N nested user namespaces, ranged maps, see below)
 *   --block=pause|read|sleep
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *step) {
  fprintf(stderr, "credproc: %s: %s\n", step, strerror(errno));
  exit(1);
}

static int parse_list(const char *s, long *out, int max) {
  int n = 0;
  while (*s && n < max) {
    char *end;
    out[n++] = strtol(s, &end, 0);
    s = *end ? end + 1 : end;
  }
  return n;
}

static void set_caps(uint64_t inh, uint64_t prm, uint64_t eff) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  d[0].inheritable = (uint32_t)inh; d[1].inheritable = (uint32_t)(inh >> 32);
  d[0].permitted = (uint32_t)prm; d[1].permitted = (uint32_t)(prm >> 32);
  d[0].effective = (uint32_t)eff; d[1].effective = (uint32_t)(eff >> 32);
  if (syscall(SYS_capset, &h, d) != 0) die("capset");
}

static uint64_t get_caps(int which) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) die("capget");
  if (which == 0) return d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
  if (which == 1) return d[0].permitted | ((uint64_t)d[1].permitted << 32);
  return d[0].effective | ((uint64_t)d[1].effective << 32);
}

static uint64_t thread_eff;
static int thread_ready[2];
static void *thread_main(void *arg) {
  (void)arg;
  set_caps(get_caps(0), get_caps(1), thread_eff); /* raw capset: this thread only */
  char c = 1;
  if (write(thread_ready[1], &c, 1) != 1) die("write");
  for (;;) pause();
  return NULL;
}

static void write_file(pid_t pid, const char *name, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
  int fd = open(path, O_WRONLY);
  if (fd < 0) die(path);
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die(path);
  close(fd);
}

/* Level k (1..n): a child unshares, its parent writes ranged maps (level 1: 0..65535 ->
 * 100000.., deeper: 0..(65536-k) -> 1.. of the parent), the parent exits, the child goes on.
 * So uid u at level k is 100000 + (k-1) + u from outside. */
static void nest(int n) {
  for (int k = 1; k <= n; k++) {
    int go[2], done[2];
    if (pipe(go) || pipe(done)) die("pipe");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
      char c;
      if (unshare(CLONE_NEWUSER) != 0) die("unshare");
      if (write(done[1], "u", 1) != 1) die("write");
      if (read(go[0], &c, 1) != 1) die("read");
      if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) die("become root in level");
      /* the id change made us undumpable, which gives our /proc files to init's root: the
       * next level's maps are written by us through them */
      if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) die("PR_SET_DUMPABLE");
      close(go[0]); close(go[1]); close(done[0]); close(done[1]);
      continue;
    }
    char c, map[64];
    if (read(done[0], &c, 1) != 1) die("read");
    if (k == 1) snprintf(map, sizeof map, "0 100000 65536\n");
    else snprintf(map, sizeof map, "0 1 %d\n", 65536 - k + 1);
    write_file(child, "uid_map", map);
    write_file(child, "gid_map", map);
    if (write(go[1], "g", 1) != 1) die("write");
    _exit(0);
  }
}

int main(int argc, char **argv) {
  long l[8];
  const char *block = "pause";
  int nests = 0;
  for (int i = 1; i < argc; i++) if (!strncmp(argv[i], "--nest=", 7)) nests = atoi(argv[i] + 7);
  if (nests > 0) nest(nests);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--bounding-drop=", 16)) {
      uint64_t drop = strtoull(a + 16, NULL, 16);
      for (int c = 0; c < 64; c++)
        if ((drop >> c) & 1) if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) die("PR_CAPBSET_DROP");
    } else if (!strncmp(a, "--securebits=", 13)) {
      if (prctl(PR_SET_SECUREBITS, strtoul(a + 13, NULL, 0), 0, 0, 0) != 0) die("PR_SET_SECUREBITS");
    } else if (!strncmp(a, "--groups=", 9)) {
      gid_t g[64];
      int n = parse_list(a + 9, l, 8);
      for (int j = 0; j < n; j++) g[j] = (gid_t)l[j];
      if (syscall(SYS_setgroups, n, g) != 0) die("setgroups");
    } else if (!strcmp(a, "--no-groups")) {
      if (syscall(SYS_setgroups, 0, NULL) != 0) die("setgroups");
    } else if (!strncmp(a, "--gids=", 7)) {
      if (parse_list(a + 7, l, 4) != 4) die("--gids needs 4");
      if (syscall(SYS_setresgid, l[0], l[1], l[2]) != 0) die("setresgid");
      syscall(SYS_setfsgid, l[3]);
    } else if (!strncmp(a, "--uids=", 7)) {
      if (parse_list(a + 7, l, 4) != 4) die("--uids needs 4");
      if (syscall(SYS_setresuid, l[0], l[1], l[2]) != 0) die("setresuid");
      syscall(SYS_setfsuid, l[3]);
    } else if (!strncmp(a, "--caps=", 7)) {
      char *e1, *e2;
      uint64_t inh = strtoull(a + 7, &e1, 16), prm = strtoull(e1 + 1, &e2, 16),
               eff = strtoull(e2 + 1, NULL, 16);
      set_caps(inh, prm, eff);
    } else if (!strncmp(a, "--ambient=", 10)) {
      uint64_t amb = strtoull(a + 10, NULL, 16);
      for (int c = 0; c < 64; c++)
        if ((amb >> c) & 1)
          if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) die("PR_CAP_AMBIENT_RAISE");
    } else if (!strcmp(a, "--nnp")) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS");
    } else if (!strncmp(a, "--thread-eff=", 13)) {
      thread_eff = strtoull(a + 13, NULL, 16);
      pthread_t t;
      char c;
      if (pipe(thread_ready) != 0) die("pipe");
      if (pthread_create(&t, NULL, thread_main, NULL) != 0) die("pthread_create");
      if (read(thread_ready[0], &c, 1) != 1) die("read");
    } else if (!strncmp(a, "--block=", 8)) {
      block = a + 8;
    } else if (strncmp(a, "--nest=", 7)) {
      fprintf(stderr, "credproc: unknown option %s\n", a);
      return 2;
    }
  }
  printf("ready %d\n", getpid());
  fflush(stdout);
  if (!strcmp(block, "read")) {
    char buf[256];
    ssize_t n = read(0, buf, sizeof buf); /* must come back with data, not EINTR */
    if (n < 0) { printf("read failed: %s\n", strerror(errno)); return 3; }
    printf("got %.*s", (int)n, buf);
    return 0;
  }
  if (!strcmp(block, "sleep")) {
    struct timespec ts = {1, 0};
    if (nanosleep(&ts, NULL) != 0) { printf("sleep failed: %s\n", strerror(errno)); return 3; }
    printf("slept\n");
    return 0;
  }
  for (;;) pause();
}
