#include "descendants.h"

/* Processes listed per scan; beyond this, the rest are found by the next scan (the callers repeat
 * until none is left). */
#define MAX_PROCESSES 16384

struct process {
  pid_t pid;
  pid_t ppid;
  int parent; /* index of the parent in the table, -1 if not listed */
  bool descendant;
};

static struct process table[MAX_PROCESSES];

/* As the kernel writes it for getdents64. */
struct dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

/* "/proc/" PID "/stat" into buf (at least 32 bytes). */
static void stat_path(char *buf, pid_t pid) {
  char digits[12];
  size_t n = 0;
  unsigned value = (unsigned)pid;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value > 0);
  memcpy(buf, "/proc/", 6);
  size_t at = 6;
  while (n > 0) buf[at++] = digits[--n];
  memcpy(buf + at, "/stat", 6);
}

/* The first and fourth fields of /proc/PID/stat (PID may be "self"): its pid in /proc's namespace
 * and its parent's. The second field, the command name in parentheses, may hold any byte but
 * NUL, ')' included: the fields after it are found after the last ')'. */
static bool read_stat(const char *path, pid_t *pid, pid_t *ppid) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) return false;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf - 1)) == -1 && errno == EINTR) {
  }
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char *close_paren = NULL;
  for (const char *p = buf; *p != '\0'; p++) {
    if (*p == ')') close_paren = p;
  }
  /* ") S PPID ": the state is one letter. */
  if (close_paren == NULL || close_paren[1] != ' ' || close_paren[2] == '\0' || close_paren[3] != ' ') return false;
  long own = 0, parent = 0;
  for (const char *p = buf; *p >= '0' && *p <= '9'; p++) own = own * 10 + (*p - '0');
  for (const char *p = close_paren + 4; *p >= '0' && *p <= '9'; p++) parent = parent * 10 + (*p - '0');
  *pid = (pid_t)own;
  *ppid = (pid_t)parent;
  return true;
}

static bool parent_of(pid_t pid, pid_t *ppid) {
  char path[32];
  stat_path(path, pid);
  pid_t listed;
  return read_stat(path, &listed, ppid) && listed == pid;
}

/* Every process /proc lists, with its parent. Returns the count, or -1. */
static int scan(void) {
  int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir == -1) return -1;
  int count = 0;
  char buf[4096] __attribute__((aligned(8)));
  for (;;) {
    long n = syscall(__NR_getdents64, dir, buf, sizeof buf);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      const struct dirent64 *entry = (const struct dirent64 *)(buf + at);
      at += entry->reclen;
      long pid = 0;
      const char *p = entry->name;
      for (; *p >= '0' && *p <= '9' && pid < 1L << 30; p++) pid = pid * 10 + (*p - '0');
      if (*p != '\0' || pid <= 0 || count == MAX_PROCESSES) continue;
      pid_t ppid;
      /* Gone since the listing: nothing to signal. */
      if (!parent_of((pid_t)pid, &ppid)) continue;
      table[count++] = (struct process){.pid = (pid_t)pid, .ppid = ppid, .parent = -1};
    }
  }
  close(dir);
  return count;
}

static bool signal_one(const struct process *process, pid_t self, int sig) {
  /* A child cannot be reaped by anyone but the init, so its pid is still its own. */
  if (process->ppid == self) return kill(process->pid, sig) == 0;
  int pidfd = (int)syscall(SYS_pidfd_open, process->pid, 0);
  if (pidfd == -1 && errno != ENOSYS) return false;
  /* The pid names the process read in the scan if its parent is still the one read then: a pid
   * reused since is a new child of that parent, a descendant too. Before pidfds (Linux 5.3) the
   * check and the kill leave a window of a few system calls. */
  pid_t ppid;
  bool same = parent_of(process->pid, &ppid) && ppid == process->ppid;
  bool sent = false;
  if (same && pidfd >= 0)
    sent = syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, 0) == 0;
  else if (same)
    sent = kill(process->pid, sig) == 0;
  if (pidfd >= 0) close(pidfd);
  return sent;
}

int signal_descendants(int sig) {
  pid_t self = getpid(), listed;
  pid_t unused;
  /* A /proc mounted for another PID namespace numbers processes differently. */
  if (!read_stat("/proc/self/stat", &listed, &unused) || listed != self) return -1;
  int count = scan();
  if (count < 0) return -1;
  /* /proc lists pids in increasing order, so a parent is found by bisection. */
  for (int i = 0; i < count; i++) {
    for (int low = 0, high = count; low < high;) {
      int middle = low + (high - low) / 2;
      if (table[middle].pid == table[i].ppid) {
        table[i].parent = middle;
        break;
      }
      if (table[middle].pid < table[i].ppid)
        low = middle + 1;
      else
        high = middle;
    }
  }
  /* Each pass marks the children of what is marked: a chain of n processes takes n passes. */
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < count; i++) {
      if (table[i].descendant) continue;
      if (table[i].ppid == self || (table[i].parent >= 0 && table[table[i].parent].descendant))
        table[i].descendant = changed = true;
    }
  }
  int sent = 0;
  for (int i = 0; i < count; i++) {
    if (table[i].descendant && signal_one(&table[i], self, sig)) sent++;
  }
  return sent;
}
