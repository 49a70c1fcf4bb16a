#include "descendants.h"

/* The descendants found so far, by pid, with their parents; beyond this many, the rest are found
 * in a later round (the callers repeat until the init has no child left, and a killed process's
 * children come to the init). */
#define MAX_DESCENDANTS 16384

struct process {
  pid_t pid;
  pid_t ppid;
};

/* Sorted by pid. */
static struct process found[MAX_DESCENDANTS];
static int found_count;

static int find(pid_t pid) {
  int low = 0, high = found_count;
  while (low < high) {
    int middle = low + (high - low) / 2;
    if (found[middle].pid == pid) return middle;
    if (found[middle].pid < pid)
      low = middle + 1;
    else
      high = middle;
  }
  return -(low + 1);
}

/* Adds a process; false if it was there already or there is no room. */
static bool add(pid_t pid, pid_t ppid) {
  int at = find(pid);
  if (at >= 0 || found_count == MAX_DESCENDANTS) return false;
  at = -(at + 1);
  for (int i = found_count; i > at; i--) found[i] = found[i - 1];
  found[at] = (struct process){.pid = pid, .ppid = ppid};
  found_count++;
  return true;
}

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

/* One pass over /proc: every process whose parent is the init or a descendant found so far is
 * added. Returns how many were added, or -1 when /proc cannot be read. Only descendants are kept,
 * so the number of other processes on the machine does not matter. */
static int scan(pid_t self) {
  int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir == -1) return -1;
  int added = 0;
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
      if (*p != '\0' || pid <= 0 || pid == self) continue;
      pid_t ppid;
      /* Gone since the listing: nothing to signal. */
      if (!parent_of((pid_t)pid, &ppid)) continue;
      if ((ppid == self || find(ppid) >= 0) && add((pid_t)pid, ppid)) added++;
    }
  }
  close(dir);
  return added;
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
  if (!read_stat("/proc/self/stat", &listed, &unused)) return -1;
  /* A /proc mounted for another PID namespace numbers processes differently. */
  if (listed != self) return -2;
  /* /proc lists pids in increasing order, and a child usually has a higher pid than its parent,
   * so one pass finds most of a tree; passes go on until one adds nothing (a parent with a higher
   * pid than its child, after pids wrapped, takes one more), up to a bound: what a fork storm
   * makes meanwhile is found in the caller's next round. */
  found_count = 0;
  for (int pass = 0, added; pass < 8 && (added = scan(self)) != 0; pass++) {
    if (added < 0) return -1;
  }
  int sent = 0;
  for (int i = 0; i < found_count; i++) {
    if (signal_one(&found[i], self, sig)) sent++;
  }
  return sent;
}
