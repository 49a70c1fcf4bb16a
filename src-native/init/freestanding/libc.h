/*
 * The part of the C library that pidns-init uses, for the build that links no C library at all
 * (build.sh: PIDNS_INIT_BUILD=nolibc). Every process start of a C library costs time before main()
 * (glibc probes the CPU with CPUID, which traps in a VM), and the init starts with every namespace.
 *
 * Names and meanings are POSIX's, so init.c reads the same in every build; only what the init uses
 * is here (test/init-build.test.ts fails when the linker finds a function here unused). Constants
 * and structures the kernel defines come from its UAPI headers (linux-libc-dev, installed with
 * any C toolchain); the ones only a C library defines are here.
 * Single-threaded: errno is one variable, and a forked child has its own copy.
 */
#ifndef PIDNS_FREESTANDING_LIBC_H
#define PIDNS_FREESTANDING_LIBC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/errno.h>
#include <asm/ioctls.h>
#include <asm/socket.h>
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/prctl.h>
#include <linux/signalfd.h>
#include <linux/time.h>
#include <linux/uio.h>
#include <linux/wait.h>

/* ---- types ---- */
typedef long ssize_t;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef unsigned int socklen_t;
typedef unsigned long nfds_t;
typedef int clockid_t;
/* As the kernel fills it in (its own header names the time fields __kernel_old_timeval). */
struct rusage {
  struct timeval ru_utime;
  struct timeval ru_stime;
  long ru_maxrss;
  long ru_ixrss;
  long ru_idrss;
  long ru_isrss;
  long ru_minflt;
  long ru_majflt;
  long ru_nswap;
  long ru_inblock;
  long ru_oublock;
  long ru_msgsnd;
  long ru_msgrcv;
  long ru_nsignals;
  long ru_nvcsw;
  long ru_nivcsw;
};
#define RUSAGE_CHILDREN (-1)

#define INT_MAX __INT_MAX__

/* ---- errno ---- */
extern int errno;
char *strerror(int err);

/* ---- process ---- */
extern char **environ;
char *getenv(const char *name);
_Noreturn void exit(int status);
_Noreturn void _exit(int status);
pid_t getpid(void);
pid_t getppid(void);
uid_t getuid(void);
gid_t getgid(void);
pid_t fork(void);
int execve(const char *path, char *const argv[], char *const envp[]);
pid_t waitpid(pid_t pid, int *status, int options);
int kill(pid_t pid, int sig);
int setpgid(pid_t pid, pid_t pgid);
pid_t setsid(void);
int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);
int getrusage(int who, struct rusage *usage);
#define AT_SECURE 23
unsigned long getauxval(unsigned long type);
/* syscall(SYS_x, ...) with up to six arguments, each passed as a long (missing ones as 0). */
long freestanding_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
#define FREESTANDING_SYSCALL_ARGS(number, a1, a2, a3, a4, a5, a6, ...) \
  (long)(number), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6)
#define syscall(...) freestanding_syscall(FREESTANDING_SYSCALL_ARGS(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0))
#define SYS_pidfd_open __NR_pidfd_open
#define SYS_rt_sigaction __NR_rt_sigaction
#define SYS_rt_sigprocmask __NR_rt_sigprocmask
#define SYS_signalfd4 __NR_signalfd4

#define WEXITSTATUS(status) (((status) & 0xff00) >> 8)
#define WTERMSIG(status) ((status) & 0x7f)
#define WSTOPSIG(status) WEXITSTATUS(status)
/* 0x7f in the low bits is a stopped child, not a signal. */
#define WIFSIGNALED(status) (WTERMSIG(status) != 0 && WTERMSIG(status) != 0x7f)
#define WIFSTOPPED(status) (((status) & 0xff) == 0x7f)

/* ---- descriptors ---- */
#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2
ssize_t read(int fd, void *buf, size_t count);
ssize_t write(int fd, const void *buf, size_t count);
/* Not variadic: the init creates no file, so a mode would be a mistake the compiler should see. */
int open(const char *path, int flags);
int close(int fd);
int chdir(const char *path);
int fchdir(int fd);
int dup2(int fd, int target);
int pipe2(int fds[2], int flags);
int fcntl(int fd, int command, ...);
int ioctl(int fd, unsigned long request, ...);
int poll(struct pollfd *fds, nfds_t count, int timeout_ms);

/* ---- signals ---- */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGSTKFLT 16
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGXCPU 24
#define SIGXFSZ 25
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGWINCH 28
#define SIGIO 29
#define SIGPWR 30
#define SIGSYS 31
/* One more than the highest signal number, as the C libraries define it. */
#define NSIG 65
#define SIG_DFL ((void (*)(int))0)
/* The init blocks and reads signals with the system calls themselves (rt_sigprocmask, signalfd4),
 * as it does over a C library, whose sigset_t and sigfillset leave out the signals it reserves. */
#define SIG_SETMASK 2

/* ---- sockets ---- */
#define SCM_RIGHTS 1
#define SCM_CREDENTIALS 2
#define MSG_DONTWAIT 0x40
#define MSG_NOSIGNAL 0x4000
struct ucred {
  pid_t pid;
  uid_t uid;
  gid_t gid;
};
struct msghdr {
  void *msg_name;
  socklen_t msg_namelen;
  struct iovec *msg_iov;
  size_t msg_iovlen;
  void *msg_control;
  size_t msg_controllen;
  int msg_flags;
};
struct cmsghdr {
  size_t cmsg_len;
  int cmsg_level;
  int cmsg_type;
};
#define CMSG_ALIGN(len) (((len) + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1))
#define CMSG_SPACE(len) (CMSG_ALIGN(len) + CMSG_ALIGN(sizeof(struct cmsghdr)))
#define CMSG_LEN(len) (CMSG_ALIGN(sizeof(struct cmsghdr)) + (len))
#define CMSG_DATA(cmsg) ((unsigned char *)(cmsg) + CMSG_ALIGN(sizeof(struct cmsghdr)))
#define CMSG_FIRSTHDR(msg) \
  ((msg)->msg_controllen >= sizeof(struct cmsghdr) ? (struct cmsghdr *)(msg)->msg_control : NULL)
struct cmsghdr *cmsg_next(const struct msghdr *msg, const struct cmsghdr *cmsg);
#define CMSG_NXTHDR(msg, cmsg) cmsg_next(msg, cmsg)
ssize_t send(int fd, const void *buf, size_t len, int flags);
ssize_t recv(int fd, void *buf, size_t len, int flags);
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags);

/* ---- time ---- */
int clock_gettime(clockid_t clock, struct timespec *now);

/* ---- strings ---- */
/* init.c parses its numbers itself (parse_decimal), the same in every build. */
void *memcpy(void *dest, const void *src, size_t n);
void *memset(void *dest, int byte, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/* ---- output: unbuffered, as stderr is, each call one write where it fits ---- */
typedef struct {
  int fd;
} FILE;
extern FILE *const stdout;
extern FILE *const stderr;
int fputs(const char *s, FILE *stream);
__attribute__((format(printf, 2, 0))) int vfprintf(FILE *stream, const char *format, va_list args);
__attribute__((format(printf, 2, 3))) int fprintf(FILE *stream, const char *format, ...);

#endif
