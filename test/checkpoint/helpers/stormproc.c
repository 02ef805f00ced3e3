/* A target for the kill-storm test: a process that notices any harm an injection could do it.
 *
 *   stormproc [--threads] [--children=N] [--signals]
 *
 * Every task loops: sleeps 100 us in nanosleep (which must return 0: an interrupted call that
 * is not restarted, or restarted wrongly, shows up as an error), then runs a computation that
 * keeps its values in registers and checks the result (a register changed under it shows up as
 * a wrong result). --threads adds a thread doing the same and one blocked in read() on a pipe
 * fed every millisecond (each read must return the byte written). --children=N forks N
 * single-threaded children doing the same; the parent watches them and exits 5 if one ends.
 * --signals: SIGALRM every 500 us to the process, handled with SA_RESTART (so read() must never
 * fail with EINTR; nanosleep may, as the kernel has it), and the handler's count must grow.
 * Any harm: a message on stderr and exit 2..5 (or a signal's death). Prints "ready PID".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t rounds = 2000;

static uint64_t compute(void) {
  uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, n = rounds;
  for (uint64_t i = 0; i < n; i++) {
    a += i ^ b;
    b = (b << 7 | b >> 57) + c;
    c ^= a * 0x9e3779b97f4a7c15ULL;
    d += c >> 3;
    e = e * 31 + d;
    f ^= e + a;
  }
  return a ^ b ^ c ^ d ^ e ^ f;
}

static uint64_t expected;
static int signals;
static volatile unsigned long alarms;

static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

static void *loop(void *arg) {
  (void)arg;
  struct timespec ts = {0, 100 * 1000};
  for (;;) {
    int r = nanosleep(&ts, NULL);
    if (r != 0 && !(signals && errno == EINTR)) {
      fprintf(stderr, "stormproc %d: nanosleep: %s\n", getpid(), strerror(errno));
      _exit(2);
    }
    if (compute() != expected) {
      fprintf(stderr, "stormproc %d: a register changed under the computation\n", getpid());
      _exit(3);
    }
  }
  return NULL;
}

static int feed[2];

static void *writer(void *arg) {
  (void)arg;
  struct timespec ts = {0, 1000 * 1000};
  for (unsigned char c = 0;; c++) {
    if (write(feed[1], &c, 1) != 1) _exit(4);
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  for (unsigned char want = 0;; want++) {
    unsigned char c;
    ssize_t n = read(feed[0], &c, 1);
    if (n != 1 || c != want) {
      fprintf(stderr, "stormproc %d: read returned %zd (%s), byte %u for %u\n", getpid(), n,
              n < 0 ? strerror(errno) : "-", c, want);
      _exit(4);
    }
  }
  return NULL;
}

static void *watcher(void *arg) {
  (void)arg;
  int status;
  pid_t pid = waitpid(-1, &status, 0);
  fprintf(stderr, "stormproc %d: child %d ended (status 0x%x)\n", getpid(), pid, status);
  _exit(5);
}

int main(int argc, char **argv) {
  int threads = 0, children = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads")) threads = 1;
    else if (!strncmp(argv[i], "--children=", 11)) children = atoi(argv[i] + 11);
    else if (!strcmp(argv[i], "--signals")) signals = 1;
  }
  expected = compute();
  for (int i = 0; i < children; i++) {
    pid_t pid = fork();
    if (pid < 0) _exit(6);
    if (pid == 0) {
      loop(NULL);
    }
  }
  pthread_t t;
  if (children > 0) pthread_create(&t, NULL, watcher, NULL);
  if (threads) {
    if (pipe(feed) != 0) _exit(6);
    pthread_create(&t, NULL, loop, NULL);
    pthread_create(&t, NULL, writer, NULL);
    pthread_create(&t, NULL, reader, NULL);
  }
  if (signals) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &it, NULL);
  }
  printf("ready %d\n", getpid());
  fflush(stdout);
  loop(NULL);
  return 0;
}
