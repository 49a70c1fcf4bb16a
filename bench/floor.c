/* The floor: the least a process can do to run a program in a new PID namespace and wait for it.
 *
 *   floor ITERATIONS [--samples] [PROGRAM [ARG...]]     (PROGRAM defaults to /bin/true)
 *
 * Each iteration is clone(CLONE_NEWPID | CLONE_VM | CLONE_VFORK) + execve + waitpid, timed with
 * CLOCK_MONOTONIC from before the clone to after the reap. This is what pidns does underneath,
 * without Node, so the ratio pidns/floor is the cost of everything the library adds. Prints one
 * JSON line of nanosecond statistics (and every sample with --samples) on stdout, after whatever
 * the program printed. Must run as root (CLONE_NEWPID). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Untimed iterations first, so page cache, dentry cache and the allocator are warm. */
#define WARMUP 3

extern char **environ;

struct target {
  const char *file;
  char **argv;
};

/* The child shares our memory and runs on this stack until execve; it may only make syscalls. */
static char child_stack[64 * 1024] __attribute__((aligned(16)));

static int child_main(void *arg) {
  const struct target *t = arg;
  execve(t->file, t->argv, environ);
  _exit(127);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int spawn_and_wait(const struct target *t) {
  pid_t pid = clone(child_main, child_stack + sizeof child_stack,
                    CLONE_NEWPID | CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)t);
  if (pid < 0) {
    fprintf(stderr, "floor: clone: %s\n", strerror(errno));
    return -1;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "floor: waitpid: %s\n", strerror(errno));
      return -1;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "floor: %s did not exit 0 (status %#x)\n", t->file, status);
    return -1;
  }
  return 0;
}

static int compare(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static long long percentile(const long long *sorted, int n, int p) {
  int rank = (p * n + 99) / 100;
  return sorted[rank > 0 ? rank - 1 : 0];
}

int main(int argc, char **argv) {
  if (argc < 2 || atoi(argv[1]) <= 0) {
    fprintf(stderr, "usage: floor ITERATIONS [--samples] [PROGRAM [ARG...]]\n");
    return 2;
  }
  int n = atoi(argv[1]);
  int arg = 2;
  int print_samples = arg < argc && strcmp(argv[arg], "--samples") == 0;
  if (print_samples) arg++;
  static char *default_argv[] = {"/bin/true", NULL};
  struct target t = {"/bin/true", default_argv};
  if (arg < argc) {
    t.file = argv[arg];
    t.argv = argv + arg;
  }

  long long *samples = malloc(sizeof *samples * n);
  if (!samples) return 1;
  for (int i = 0; i < WARMUP; i++)
    if (spawn_and_wait(&t) < 0) return 1;
  for (int i = 0; i < n; i++) {
    long long start = now_ns();
    if (spawn_and_wait(&t) < 0) return 1;
    samples[i] = now_ns() - start;
  }

  /* Samples in the order taken, before sorting, so a caller can see drift. */
  fflush(stdout);
  printf("{\"iterations\":%d", n);
  if (print_samples) {
    printf(",\"samples\":[");
    for (int i = 0; i < n; i++) printf(i ? ",%lld" : "%lld", samples[i]);
    printf("]");
  }
  long long sum = 0;
  for (int i = 0; i < n; i++) sum += samples[i];
  qsort(samples, n, sizeof *samples, compare);
  printf(",\"min\":%lld,\"p10\":%lld,\"median\":%lld,\"p90\":%lld,\"max\":%lld,\"mean\":%lld}\n",
         samples[0], percentile(samples, n, 10), percentile(samples, n, 50),
         percentile(samples, n, 90), samples[n - 1], sum / n);
  free(samples);
  return 0;
}
