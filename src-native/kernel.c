#include "kernel.h"

#include <errno.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

PIDNS_RAW int pidns_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

PIDNS_RAW int pidns_pidfd_send_signal(int pidfd, int sig) {
  return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

PIDNS_RAW int pidns_setns(int fd, int nstype) { return (int)syscall(SYS_setns, fd, nstype); }

PIDNS_RAW int pidns_setresuid(uid_t uid) { return (int)syscall(SYS_setresuid, uid, uid, uid); }

PIDNS_RAW int pidns_setresgid(gid_t gid) { return (int)syscall(SYS_setresgid, gid, gid, gid); }

PIDNS_RAW int pidns_setgroups_empty(void) { return (int)syscall(SYS_setgroups, 0, NULL); }

PIDNS_RAW int pidns_group_count(void) { return (int)syscall(SYS_getgroups, 0, NULL); }

PIDNS_RAW int pidns_close_range(unsigned int first, unsigned int last, unsigned int flags) {
  return (int)syscall(SYS_close_range, first, last, flags);
}

PIDNS_RAW int pidns_close_range_cloexec(unsigned int first) { return pidns_close_range(first, ~0U, CLOSE_RANGE_CLOEXEC); }

PIDNS_RAW int pidns_sigmask_set(const sigset_t *set, sigset_t *old) {
  return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old, sizeof(unsigned long));
}

int pidns_block_signals_but_libc(sigset_t *old) {
  /* glibc's sigdelset refuses its own two: the kernel's mask is built by hand. */
  sigset_t mask;
  unsigned char *bytes = (unsigned char *)&mask;
  for (size_t i = 0; i < sizeof mask; i++) bytes[i] = 0xff;
  unsigned long *words = (unsigned long *)&mask;
  words[0] &= ~((1UL << (32 - 1)) | (1UL << (33 - 1)));
  return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, old, sizeof(unsigned long));
}

PIDNS_RAW long pidns_open_files_limit(void) {
  struct rlimit limit;
  if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit) < 0) return 1024;
  return limit.rlim_cur == RLIM_INFINITY ? 1048576 : (long)limit.rlim_cur;
}

PIDNS_RAW int pidns_namespace_type(int fd) { return ioctl(fd, NS_GET_NSTYPE); }

/* The leading decimal number of text, and where it ends. */
PIDNS_RAW static long leading_number(const char **text) {
  long n = 0;
  while (**text >= '0' && **text <= '9' && n < 100000) n = n * 10 + (*(*text)++ - '0');
  return n;
}

PIDNS_RAW int pidns_pid_max_per_namespace(void) {
  struct utsname names;
  if (syscall(SYS_uname, &names) < 0) return 0;
  const char *p = names.release;
  long major = leading_number(&p);
  if (*p++ != '.') return 0;
  long minor = leading_number(&p);
  return major > 6 || (major == 6 && minor >= 14);
}
