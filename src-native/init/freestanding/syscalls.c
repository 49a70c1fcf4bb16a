/* POSIX calls as thin wrappers over the kernel's system calls: a result of -4095..-1 is -errno.
 * arm64 has only the newer form of some calls (openat, ppoll, dup3, pipe2, clone), so both
 * architectures use those. */
#include "libc.h"

#include "arch.h"

int errno;

static long result_of(long raw) {
  if ((unsigned long)raw > -4096UL) {
    errno = (int)-raw;
    return -1;
  }
  return raw;
}

long freestanding_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
  return result_of(arch_syscall6(number, a1, a2, a3, a4, a5, a6));
}

#define CALL(number, a1, a2, a3, a4, a5, a6) \
  freestanding_syscall((number), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6))

_Noreturn void _exit(int status) {
  for (;;) arch_syscall6(__NR_exit_group, status, 0, 0, 0, 0, 0);
}

/* Output is unbuffered and nothing registers atexit handlers: nothing to flush. */
_Noreturn void exit(int status) { _exit(status); }

pid_t getpid(void) { return (pid_t)CALL(__NR_getpid, 0, 0, 0, 0, 0, 0); }
pid_t getppid(void) { return (pid_t)CALL(__NR_getppid, 0, 0, 0, 0, 0, 0); }
uid_t getuid(void) { return (uid_t)CALL(__NR_getuid, 0, 0, 0, 0, 0, 0); }
gid_t getgid(void) { return (gid_t)CALL(__NR_getgid, 0, 0, 0, 0, 0, 0); }

/* A plain clone with SIGCHLD as the exit signal is fork(); the child gets a copy of everything. */
pid_t fork(void) { return (pid_t)CALL(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0); }

int execve(const char *path, char *const argv[], char *const envp[]) {
  return (int)CALL(__NR_execve, path, argv, envp, 0, 0, 0);
}

pid_t waitpid(pid_t pid, int *status, int options) {
  return (pid_t)CALL(__NR_wait4, pid, status, options, NULL, 0, 0);
}

int kill(pid_t pid, int sig) { return (int)CALL(__NR_kill, pid, sig, 0, 0, 0, 0); }
int setpgid(pid_t pid, pid_t pgid) { return (int)CALL(__NR_setpgid, pid, pgid, 0, 0, 0, 0); }
pid_t setsid(void) { return (pid_t)CALL(__NR_setsid, 0, 0, 0, 0, 0, 0); }

int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5) {
  return (int)CALL(__NR_prctl, option, arg2, arg3, arg4, arg5, 0);
}

int getrusage(int who, struct rusage *usage) { return (int)CALL(__NR_getrusage, who, usage, 0, 0, 0, 0); }

ssize_t read(int fd, void *buf, size_t count) { return CALL(__NR_read, fd, buf, count, 0, 0, 0); }
ssize_t write(int fd, const void *buf, size_t count) { return CALL(__NR_write, fd, buf, count, 0, 0, 0); }

int open(const char *path, int flags) { return (int)CALL(__NR_openat, AT_FDCWD, path, flags, 0, 0, 0); }

int close(int fd) { return (int)CALL(__NR_close, fd, 0, 0, 0, 0, 0); }
int chdir(const char *path) { return (int)CALL(__NR_chdir, path, 0, 0, 0, 0, 0); }
int fchdir(int fd) { return (int)CALL(__NR_fchdir, fd, 0, 0, 0, 0, 0); }

/* dup3 refuses fd == target, where dup2 succeeds if fd is open. */
int dup2(int fd, int target) {
  if (fd == target) return fcntl(fd, F_GETFD) == -1 ? -1 : target;
  return (int)CALL(__NR_dup3, fd, target, 0, 0, 0, 0);
}

int pipe2(int fds[2], int flags) { return (int)CALL(__NR_pipe2, fds, flags, 0, 0, 0, 0); }

/* Every fcntl command takes at most one argument, an int or a pointer; the kernel ignores it
 * where the command has none. */
int fcntl(int fd, int command, ...) {
  va_list args;
  va_start(args, command);
  void *arg = va_arg(args, void *);
  va_end(args);
  return (int)CALL(__NR_fcntl, fd, command, arg, 0, 0, 0);
}

int ioctl(int fd, unsigned long request, ...) {
  va_list args;
  va_start(args, request);
  void *arg = va_arg(args, void *);
  va_end(args);
  return (int)CALL(__NR_ioctl, fd, request, arg, 0, 0, 0);
}

int poll(struct pollfd *fds, nfds_t count, int timeout_ms) {
  struct timespec timeout = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L};
  return (int)CALL(__NR_ppoll, fds, count, timeout_ms < 0 ? NULL : &timeout, NULL, 0, 0);
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
  return CALL(__NR_sendto, fd, buf, len, flags, NULL, 0);
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
  return CALL(__NR_recvfrom, fd, buf, len, flags, NULL, NULL);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  return CALL(__NR_sendmsg, fd, msg, flags, 0, 0, 0);
}

struct cmsghdr *cmsg_next(const struct msghdr *msg, const struct cmsghdr *cmsg) {
  if (cmsg->cmsg_len < sizeof(struct cmsghdr)) return NULL;
  unsigned char *next = (unsigned char *)cmsg + CMSG_ALIGN(cmsg->cmsg_len);
  unsigned char *end = (unsigned char *)msg->msg_control + msg->msg_controllen;
  if (next + sizeof(struct cmsghdr) > end) return NULL;
  return (struct cmsghdr *)next;
}

/* The system call, not the vDSO: the init reads the clock only during a teardown grace. */
int clock_gettime(clockid_t clock, struct timespec *now) {
  return (int)CALL(__NR_clock_gettime, clock, now, 0, 0, 0, 0);
}
