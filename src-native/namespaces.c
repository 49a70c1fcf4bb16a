#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel.h"

/* Rules for this file: see child.h. Raw system calls only, buffers on the stack. */

PIDNS_CHILD_CODE static size_t text_length(const char *text) {
  size_t len = 0;
  while (text[len]) len++;
  return len;
}

/* The offsets of the time namespace this process has unshared for its children: writable only
 * until a process enters it, which this one does at its own execve (the kernel's
 * exec_task_namespaces), so nothing ever runs there with other offsets. */
PIDNS_CHILD_CODE static int write_time_offsets(const char *text) {
  int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = text_length(text);
  ssize_t n;
  do {
    n = write(fd, text, len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  errno = err;
  return n == (ssize_t)len ? 0 : -1;
}

/* A new network namespace has only the loopback interface, and it is down: bring it up with the
 * same two ioctls as `ip link set lo up` through an ordinary socket of the namespace. */
PIDNS_CHILD_CODE int pidns_loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct ifreq request;
  for (size_t i = 0; i < sizeof request; i++) ((char *)&request)[i] = 0;
  request.ifr_name[0] = 'l';
  request.ifr_name[1] = 'o';
  int r = ioctl(fd, SIOCGIFFLAGS, &request);
  if (r == 0) {
    request.ifr_flags |= IFF_UP;
    r = ioctl(fd, SIOCSIFFLAGS, &request);
  }
  int err = errno;
  close(fd);
  errno = err;
  return r;
}

PIDNS_CHILD_CODE int pidns_prepare_namespaces(struct pidns_child *c) {
  int kinds = c->new_namespaces;
  /* As unshare(1) does: mounts made inside must not reach the namespace this one was copied from. */
  if ((kinds & CLONE_NEWNS) && !c->mount_namespace_made && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return PIDNS_STEP_MOUNT;
  /* A cgroup namespace is rooted at the cgroup of the process that makes it: unshared here, by
   * the process that is already where the namespace is placed, its root is that cgroup on every
   * path (a clone3 with CLONE_INTO_CGROUP | CLONE_NEWCGROUP would root it at the target cgroup
   * too, as cgroup_post_fork does, but the user-namespace and plain clone() paths would need the
   * flag carried separately). The time namespace can only be unshared (its flag is the exit
   * signal's bit in clone()) and is for children: this process enters it at its execve. */
  int late = kinds & (CLONE_NEWCGROUP | CLONE_NEWTIME);
  if (late && unshare(late) < 0) return PIDNS_STEP_UNSHARE;
  if (c->time_offsets && write_time_offsets(c->time_offsets) < 0) return PIDNS_STEP_TIME_OFFSETS;
  if (c->hostname && sethostname(c->hostname, text_length(c->hostname)) < 0) return PIDNS_STEP_SETHOSTNAME;
  if (kinds & CLONE_NEWNET) {
    /* A namespace made ahead has lo up already. Should entering it be refused (a seccomp filter
     * on setns), this process makes its own, as the clone would have. */
    int entered = c->warm_net_fd >= 0 && pidns_setns(c->warm_net_fd, CLONE_NEWNET) == 0;
    if (c->warm_net_fd >= 0 && !entered) c->warm_net_refused = 1;
    if (!entered && c->warm_net_fd >= 0 && unshare(CLONE_NEWNET) < 0) return PIDNS_STEP_UNSHARE;
    if (!entered && pidns_loopback_up() < 0) return PIDNS_STEP_LOOPBACK;
  }
  return PIDNS_STEP_NONE;
}
