#include "clone3.h"

#include <errno.h>
#include <linux/sched.h>
#include <sys/syscall.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* The system call and the child's first steps are in assembly: the child returns from the
 * system call on a fresh stack with no frame, so no compiled code may run in between. It calls
 * fn(arg) and passes the result to exit. Returns the raw result (pid, or -errno) to the parent. */
long pidns_clone3_raw(struct pidns_clone_args *args, size_t size, int (*fn)(void *), void *arg);

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl pidns_clone3_raw\n"
    ".type pidns_clone3_raw,@function\n"
    "pidns_clone3_raw:\n"
    "  mov %rdx, %r8\n"        /* fn and arg survive the system call in r8/r9 */
    "  mov %rcx, %r9\n"
    "  mov $435, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 1f\n"
    "  xor %ebp, %ebp\n"       /* the child: outermost frame */
    "  mov %r9, %rdi\n"
    "  call *%r8\n"
    "  mov %eax, %edi\n"
    "  mov $60, %eax\n"        /* exit */
    "  syscall\n"
    "  hlt\n"
    "1: ret\n"
    ".size pidns_clone3_raw, .-pidns_clone3_raw\n");
#define PIDNS_HAVE_CLONE3_RAW 1
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl pidns_clone3_raw\n"
    ".type pidns_clone3_raw,%function\n"
    "pidns_clone3_raw:\n"
    "  mov x10, x2\n"          /* fn and arg survive the system call in x10/x11 */
    "  mov x11, x3\n"
    "  mov x8, #435\n"
    "  svc #0\n"
    "  cbnz x0, 1f\n"
    "  mov x29, xzr\n"         /* the child: outermost frame */
    "  mov x30, xzr\n"
    "  mov x0, x11\n"
    "  blr x10\n"
    "  mov x8, #93\n"          /* exit */
    "  svc #0\n"
    "1: ret\n"
    ".size pidns_clone3_raw, .-pidns_clone3_raw\n");
#define PIDNS_HAVE_CLONE3_RAW 1
#endif

PIDNS_RAW pid_t pidns_clone3(const struct pidns_clone_request *request, int (*fn)(void *), void *arg) {
#ifdef PIDNS_HAVE_CLONE3_RAW
  struct pidns_clone_args args = {0};
  args.flags = request->flags;
  args.pidfd = (uint64_t)(uintptr_t)request->pidfd;
  args.exit_signal = (uint64_t)request->exit_signal;
  args.stack = (uint64_t)(uintptr_t)(request->stack_top - request->stack_size);
  args.stack_size = request->stack_size;
  if (request->cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)request->cgroup_fd;
  }
  if (request->set_tid_size > 0) {
    args.set_tid = (uint64_t)(uintptr_t)request->set_tid;
    args.set_tid_size = request->set_tid_size;
  }
  long r = pidns_clone3_raw(&args, sizeof args, fn, arg);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return (pid_t)r;
#else
  (void)request;
  (void)fn;
  (void)arg;
  errno = ENOSYS;
  return -1;
#endif
}
