/*
 * Setting a signal's disposition back to SIG_DFL with the rt_sigaction system call itself, for the
 * addon's child between clone and execve (kernel.h, child.c) and for pidns-init (init/init.c).
 *
 * Not the C library's sigaction: it refuses the signals the library reserves for itself (32 and 33
 * with glibc, 32 to 34 with musl), yet an ignored one would still be inherited across execve. And
 * in a child sharing Node's memory a libc call is one more thing that could touch shared state.
 *
 * The includer builds against a C library, or (PIDNS_FREESTANDING, the init's build without one)
 * has included init/freestanding/libc.h first, which provides syscall(), SYS_rt_sigaction and
 * SIG_DFL. C and C++.
 */
#ifndef PIDNS_RAW_SIGNAL_H
#define PIDNS_RAW_SIGNAL_H

#ifndef PIDNS_FREESTANDING
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The kernel's struct sigaction for rt_sigaction (x86-64, arm64 and the other architectures
 * without a layout of their own), which differs from the C libraries'. The mask is the kernel's
 * sigset_t: 64 signals. */
struct pidns_kernel_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  unsigned long mask[64 / (8 * sizeof(unsigned long))];
};

/* Returns 0, or -1 with errno set (EINVAL for SIGKILL, SIGSTOP and numbers out of range). Runs in
 * the addon's child on Node's memory: no sanitizer instrumentation (see child.h). */
#if defined(__GNUC__)
__attribute__((no_sanitize("address", "undefined")))
#endif
static inline int pidns_sigaction_default(int sig) {
  struct pidns_kernel_sigaction act = {SIG_DFL, 0, 0, {0}};
  return (int)syscall(SYS_rt_sigaction, sig, &act, (void *)0, sizeof act.mask);
}

#endif
