/*
 * pidns-init: pid 1 of a PID namespace made by pidns.
 *
 * Pid 1 of a namespace gets no default signal actions, inherits every orphan and takes the whole
 * namespace down when it exits. This program carries those duties so that the command, its child
 * (pid 2), behaves as it would outside: it forwards signals to the command, reaps orphans, reports
 * on the control channel (../protocol.h) and exits with the command's status.
 *
 * Single-threaded and event driven: every signal is blocked and read from a signalfd, and poll()
 * waits on that and the control socket without a timeout, except while a teardown grace runs.
 * Not pid 1 (run by hand, a second init in a container, the library's mode without a new
 * namespace) it becomes a child subreaper instead: orphans of the command still come to it, and
 * when the command ends it ends its descendants, found in /proc (descendants.c), since kill(-1)
 * there would reach every process of the host. Options: options.c.
 */
/* build.sh builds it against freestanding/libc.h (no C library, fast to start) where it can, and
 * against the C library elsewhere; a new call needs both to declare it. */
#include "system.h"

#include "descendants.h"
#include "options.h"

#include "../protocol.h"
#include "../raw_signal.h"

/* The init itself failed after the command started (a "cannot happen" syscall failure). */
#define EXIT_INIT_FAILED PIDNS_EXIT_FAILED
#define EXIT_CANNOT_EXECUTE PIDNS_EXIT_CANNOT_EXECUTE
#define EXIT_NOT_FOUND PIDNS_EXIT_NOT_FOUND
#define EXIT_PARENT_GONE (128 + SIGKILL)

struct init {
  struct options opt;
  bool is_pid1;
  int signal_fd;
  int control_fd;         /* -1 when absent, or once Node is gone (--no-die-with-parent) */
  pid_t command_pid;      /* 0 unless the command runs or is a zombie not yet reaped */
  unsigned empty_wanted;  /* PIDNS_REQ_TERMINATE requests not yet answered */
  bool tearing_down;
  /* The command leads a process group of its own: with -g or --foreground, and always when the
   * init runs on its own (no control channel: a container's entrypoint), as tini's and
   * dumb-init's children do. Under the library it stays in the init's group, which is Node's. */
  bool own_group;
  /* Run on its own from the terminal's foreground group: the command's group is given the
   * terminal. */
  bool terminal_to_group;
  /* The command has ended and --wait-all waits for the rest. */
  bool waiting_for_rest;
  int exit_status;        /* valid while tearing down or waiting for the rest */
  long long grace_end_ms; /* CLOCK_MONOTONIC, valid while tearing down */
};

/* -v: what the init does, on stderr. */
__attribute__((format(printf, 2, 3))) static void say(const struct init *init, const char *format, ...) {
  if (!init->opt.verbose) return;
  va_list args;
  va_start(args, format);
  fputs("pidns-init: ", stderr);
  vfprintf(stderr, format, args);
  fputs("\n", stderr);
  va_end(args);
}

/* "SIGTERM", or "signal 40" in buf for a signal without a name. */
static const char *name_of(int sig, char buf[16]) {
  const char *name = signal_name(sig);
  if (name != NULL) return name;
  memcpy(buf, "signal ", 7);
  buf[7] = (char)('0' + sig / 10);
  buf[8] = (char)('0' + sig % 10);
  buf[9] = '\0';
  return buf;
}

static _Noreturn void die(const char *what) {
  fprintf(stderr, "pidns-init: %s: %s\n", what, strerror(errno));
  exit(EXIT_INIT_FAILED);
}

/* Node may be slow or gone: pid 1 must never stall on it, and a lost report is not fatal. */
static long long monotonic_ms(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) == -1) die("clock_gettime");
  return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* The socket's queue fills only when Node reads slower than reports come (a command that stops
 * and continues itself thousands of times while Node is busy) or someone floods Node through a
 * copy of the socket. A report of a stop is then dropped: it is news only while it is new. Every
 * other report waits for room, up to REPORT_WAIT_MS, so that the exact status is not lost; the
 * wait ends at once when Node is gone (EPIPE, ECONNRESET). */
#define REPORT_WAIT_MS 5000

static void send_report(const struct init *init, uint32_t type, int32_t value, int64_t amount) {
  if (init->control_fd < 0) return;
  struct pidns_msg msg = {.type = type, .value = value, .amount = amount};
  int wait_ms = type == PIDNS_MSG_STOPPED ? 0 : REPORT_WAIT_MS;
  for (long long deadline = -1;;) {
    if (send(init->control_fd, &msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL) != -1) return;
    if (errno != EAGAIN || wait_ms == 0) return;
    long long now = monotonic_ms();
    if (deadline < 0) deadline = now + wait_ms;
    if (now >= deadline) return;
    struct pollfd room = {.fd = init->control_fd, .events = POLLOUT};
    (void)poll(&room, 1, (int)(deadline - now));
  }
}

static void send_message(const struct init *init, uint32_t type, int32_t value) {
  send_report(init, type, value, 0);
}

/* Runs in the command's own process: the kernel translates SCM_CREDENTIALS into the receiver's
 * namespace, which is how Node learns the command's outer pid, and the pidfd lets it signal the
 * command without ever hitting a recycled pid. */
static void send_child_message(int control_fd) {
  struct pidns_msg msg = {.type = PIDNS_MSG_CHILD, .value = getpid()};
  struct iovec iov = {.iov_base = &msg, .iov_len = sizeof msg};
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr header = {
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.buf,
      .msg_controllen = sizeof control.buf,
  };

  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
  struct ucred self = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_CREDENTIALS;
  cmsg->cmsg_len = CMSG_LEN(sizeof self);
  memcpy(CMSG_DATA(cmsg), &self, sizeof self);

  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd >= 0) {
    cmsg = CMSG_NXTHDR(&header, cmsg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof pidfd);
    memcpy(CMSG_DATA(cmsg), &pidfd, sizeof pidfd);
  } else {
    header.msg_controllen = CMSG_SPACE(sizeof self);
  }
  (void)sendmsg(control_fd, &header, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (pidfd >= 0) close(pidfd);
}

/* Nothing has been sent for the command yet, so Node learns the errno from EXEC_FAILED; a user
 * running the init by hand learns it from stderr. */
static _Noreturn void start_failed_at(const struct init *init, const char *what, int err, int step) {
  send_report(init, PIDNS_MSG_EXEC_FAILED, err, step);
  if (init->control_fd < 0) fprintf(stderr, "pidns-init: %s: %s\n", what, strerror(err));
  exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
}

static _Noreturn void start_failed(const struct init *init, const char *what, int err) {
  start_failed_at(init, what, err, PIDNS_START_EXECVE);
}

/* A closed 0, 1 or 2 would be taken by the next descriptor the init opens (the signalfd, say) and
 * then overwritten when the init points its stdio at /dev/null. */
static void fill_standard_fds(const struct init *init) {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
    if (fcntl(fd, F_GETFD) != -1) continue;
    if (open("/dev/null", O_RDWR) != fd) start_failed(init, "/dev/null", errno);
  }
}

static void setup_signals(struct init *init) {
  /* Every signal, as the kernel numbers them: libc's sigfillset leaves out the ones it reserves
   * (32 to 34 with musl), and those would then act by default, which for pid 1 means dropped. */
  unsigned long all = ~0UL;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all) == -1)
    start_failed(init, "sigprocmask", errno);

  /* Dispositions survive fork and an ignored one survives exec (Node ignores SIGPIPE), so reset
   * them here, once, for the command's sake; an inherited SIG_IGN for SIGCHLD would also make the
   * kernel reap children before the init could read their status. Blocked signals still queue
   * for the signalfd whatever their disposition. */
  for (int sig = 1; sig < NSIG; sig++) {
    /* EINVAL: SIGKILL and SIGSTOP, which cannot be changed. */
    if (pidns_sigaction_default(sig) == -1 && errno != EINVAL) start_failed(init, "sigaction", errno);
  }

  init->signal_fd = (int)syscall(SYS_signalfd4, -1, &all, sizeof all, SFD_NONBLOCK | SFD_CLOEXEC);
  if (init->signal_fd == -1) start_failed(init, "signalfd", errno);
}

/* What the command's process sends back on the exec-error pipe: one write of 8 bytes, atomic. */
struct start_error {
  int err;
  int step; /* enum pidns_start_step */
};

static _Noreturn void report_exec_error(int exec_error_fd, int step) {
  struct start_error report = {.err = errno, .step = step};
  while (write(exec_error_fd, &report, sizeof report) == -1 && errno == EINTR) {
  }
  _exit(EXIT_NOT_FOUND);
}

/* The command's identity, in the command's process only (the same order and rules as the library's
 * own children: groups, then gid, then uid). Raw system calls: the wrappers of a C library would
 * try to keep every thread's ids in step, and there is only this one. */
static void change_identity(const struct init *init, int exec_error_fd) {
  if (init->opt.uid < 0 && init->opt.gid < 0) return;
  if (syscall(__NR_setgroups, 0, NULL) == -1) {
    /* A caller that may change ids but not groups would hand the command its own groups: that is
     * a failure, unless there are none, or setgroups is denied in this user namespace for
     * everyone. */
    int err = errno;
    if (err != EPERM || (!init->opt.groups_denied && syscall(__NR_getgroups, 0, NULL) != 0)) {
      errno = err;
      report_exec_error(exec_error_fd, PIDNS_START_SETGROUPS);
    }
  }
  if (init->opt.gid >= 0 && syscall(__NR_setresgid, init->opt.gid, init->opt.gid, init->opt.gid) == -1)
    report_exec_error(exec_error_fd, PIDNS_START_SETGID);
  if (init->opt.uid >= 0 && syscall(__NR_setresuid, init->opt.uid, init->opt.uid, init->opt.uid) == -1)
    report_exec_error(exec_error_fd, PIDNS_START_SETUID);
}

/* What lib/resolve.ts searches when PATH is not set, so that the library and the init find the same
 * file (glibc's execvp searches /bin:/usr/bin, musl's /usr/local/bin:/bin:/usr/bin). */
static const char default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* The command lookup, the same in every build and as the library's (lib/resolve.ts); the C
 * libraries' execvp differ (glibc's runs a file without a #! line through /bin/sh, musl's does
 * not). A name with a slash is exec'd as it is. Otherwise each entry of PATH (default_path when
 * PATH is not set) in turn, an empty entry being the current folder: ENOENT and ENOTDIR pass over
 * an entry, EACCES too but is remembered, any other error ends the search. Nothing runs through
 * /bin/sh: a file the kernel cannot exec fails with ENOEXEC, as it does without the init. Returns
 * only when nothing was exec'd, with errno set: EACCES if an entry was refused, else ENOENT. */
static void exec_command(const char *file, char *const argv[]) {
  if (strchr(file, '/') != NULL) {
    execve(file, argv, environ);
    return;
  }
  /* "dir/" would be the directory itself. */
  if (file[0] == '\0') {
    errno = ENOENT;
    return;
  }
  const char *search = getenv("PATH");
  if (search == NULL) search = default_path;
  size_t file_length = strlen(file);
  bool refused = false;
  for (const char *entry = search;;) {
    const char *end = strchr(entry, ':');
    if (end == NULL) end = entry + strlen(entry);
    size_t dir_length = (size_t)(end - entry);
    /* The kernel's PATH_MAX; an entry too long for it is passed over. */
    char path[4096];
    if (dir_length + 1 + file_length + 1 <= sizeof path) {
      memcpy(path, entry, dir_length);
      size_t at = dir_length;
      if (at > 0) path[at++] = '/';
      memcpy(path + at, file, file_length + 1);
      execve(path, argv, environ);
      if (errno == EACCES)
        refused = true;
      else if (errno != ENOENT && errno != ENOTDIR)
        return;
    }
    if (*end == '\0') break;
    entry = end + 1;
  }
  errno = refused ? EACCES : ENOENT;
}

/* The forked child. The init is single-threaded, so ordinary libc calls are safe here. Every
 * descriptor of the init is close-on-exec, so the command gets only what the init inherited. */
static _Noreturn void run_command(const struct init *init, int start_dir, int exec_error_fd) {
  if (start_dir != -1 && fchdir(start_dir) == -1) report_exec_error(exec_error_fd, PIDNS_START_CHDIR);
  /* A new session is a new process group too, led by the command. */
  if (init->opt.terminal) {
    if (setsid() == -1 || ioctl(STDIN_FILENO, TIOCSCTTY, 0) == -1) report_exec_error(exec_error_fd, PIDNS_START_TERMINAL);
  } else if (init->own_group && setpgid(0, 0) == -1) {
    report_exec_error(exec_error_fd, PIDNS_START_TERMINAL);
  }
  if (init->opt.foreground || init->terminal_to_group) {
    /* Every signal is still blocked here, so this works from outside the foreground group (no
     * SIGTTOU). A failure (the terminal changed hands since Node looked) leaves the command in
     * the background, where a shell would have put it. */
    pid_t self = getpid();
    (void)ioctl(STDIN_FILENO, TIOCSPGRP, &self);
  }
  change_identity(init, exec_error_fd);
  unsigned long none = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none) == -1)
    report_exec_error(exec_error_fd, PIDNS_START_EXECVE);
  if (init->control_fd >= 0) send_child_message(init->control_fd);
  char *file = init->opt.command[0];
  if (init->opt.argv0) init->opt.command[0] = (char *)init->opt.argv0;
  exec_command(file, init->opt.command);
  report_exec_error(exec_error_fd, PIDNS_START_EXECVE);
}

static pid_t start_command(const struct init *init, int start_dir) {
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) == -1) start_failed(init, "pipe2", errno);
  pid_t pid = fork();
  if (pid == -1) start_failed(init, "fork", errno);
  if (pid == 0) run_command(init, start_dir, exec_pipe[1]);
  close(exec_pipe[1]);

  /* EOF: the exec succeeded and closed the write end. A pipe write of one int is atomic, so the
   * read gets either nothing or the whole errno. */
  struct start_error report;
  ssize_t n;
  while ((n = read(exec_pipe[0], &report, sizeof report)) == -1 && errno == EINTR) {
  }
  if (n == -1) die("read");
  close(exec_pipe[0]);
  if (n == 0) return pid;

  while (waitpid(pid, NULL, 0) == -1 && errno == EINTR) {
  }
  start_failed_at(init, init->opt.command[0], report.err, report.step);
}

/* The command's stdin and stdout must end when the command (and what it started) closes them, not
 * when the init exits; stderr stays for the init's own error lines, unless it is the command's
 * terminal. fill_standard_fds() made sure no other descriptor of the init lives at 0 to 2, and
 * the init opens nothing after this. */
static void release_stdio(const struct init *init) {
  int last = init->opt.terminal ? STDERR_FILENO : STDOUT_FILENO;
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = STDIN_FILENO; fd <= last; fd++) {
    if (null_fd == -1 || dup2(null_fd, fd) == -1) close(fd);
  }
  if (null_fd != -1) close(null_fd);
}

/* pidns places the control channel after the command's own descriptors (an IPC channel, extra
 * pipes), so those are 3 up to it. The command holds them now; a copy kept here would keep their
 * other end from seeing end of file when the command closes its own. */
static void release_command_fds(const struct init *init) {
  for (int fd = STDERR_FILENO + 1; fd < init->opt.control_fd; fd++) {
    if (fd != init->signal_fd) close(fd);
  }
}


static int exit_status_of(int wait_status) {
  return WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

/* Reaps every child that has ended. Returns true when the init has no child left. */
static bool reap_children(struct init *init, bool *command_ended, int *command_status) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG | WUNTRACED);
    if (pid > 0 && WIFSTOPPED(status)) {
      /* Node stops along with the command (job control); a stopped orphan is not its concern. */
      if (pid == init->command_pid) send_message(init, PIDNS_MSG_STOPPED, WSTOPSIG(status));
      continue;
    }
    if (pid > 0) {
      if (pid == init->command_pid) {
        init->command_pid = 0;
        *command_ended = true;
        *command_status = status;
      }
      continue;
    }
    if (pid == 0) return false;
    if (errno == ECHILD) return true;
    if (errno != EINTR) die("waitpid");
  }
}

static int64_t micros(struct timeval t) {
  return (int64_t)t.tv_sec * 1000000 + t.tv_usec;
}

/* Not pid 1: every descendant is killed (found in /proc, descendants.c) and every child reaped,
 * over again until the init has no child left; an orphan of a killed process comes to the init
 * and is killed in the next round. Gives up when nothing can be signalled: /proc does not show
 * this namespace, or what is left runs as a uid the init may not signal. */
static void end_descendants(const struct init *init) {
  for (int rounds = 0;; rounds++) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0 || (pid == -1 && errno == EINTR)) {
    }
    if (pid == -1 && errno == ECHILD) return;
    if (pid == -1) die("waitpid");
    int sent = signal_descendants(SIGKILL);
    if (rounds == 0 && sent > 0) say(init, "killing %d remaining descendants", sent);
    if (sent == -1) {
      fprintf(stderr, "pidns-init: cannot read /proc to find the remaining descendants (%s): leaving them running\n", strerror(errno));
      return;
    }
    if (sent == -2) {
      fputs("pidns-init: cannot find the remaining descendants (the /proc mounted is another PID namespace's): leaving them running\n", stderr);
      return;
    }
    if (sent == 0) {
      fputs("pidns-init: cannot signal the remaining descendants (another uid, or hidden from the init in /proc): leaving them running\n", stderr);
      return;
    }
    /* Until a child has changed, or a tenth of a second: a process created after the scan is
     * found by the next one. */
    struct pollfd changed = {.fd = init->signal_fd, .events = POLLIN};
    if (poll(&changed, 1, 100) > 0) {
      struct signalfd_siginfo infos[16];
      while (read(init->signal_fd, infos, sizeof infos) > 0) {
      }
    }
  }
}

/* The init's own exit code: the command's (128+N for a signal), or 0 for one of -e's codes. */
static int own_exit_code(const struct init *init, int exit_status) {
  unsigned code = (unsigned)exit_status & 0xff;
  if (init->opt.success_codes[code / 8] & (1u << (code % 8))) return 0;
  return exit_status;
}

/* The init ends the namespace itself instead of leaving that to the kernel at its exit: the
 * kernel accounts the processes it kills then to nobody. So as pid 1 it kills and reaps every
 * process left (a process in the namespace whose parent is outside, a joined member, is killed
 * but reaped by that parent); otherwise it ends its descendants. Then it reports what all the
 * processes it reaped used. */
static _Noreturn void end_namespace(const struct init *init, int exit_status) {
  if (init->is_pid1) {
    (void)kill(-1, SIGKILL); /* ESRCH: nobody else is left */
    for (;;) {
      if (waitpid(-1, NULL, 0) > 0 || errno == EINTR) continue;
      break; /* ECHILD */
    }
  } else {
    end_descendants(init);
  }
  struct rusage usage;
  if (getrusage(RUSAGE_CHILDREN, &usage) == 0) {
    send_report(init, PIDNS_MSG_USAGE_USER, 0, micros(usage.ru_utime));
    send_report(init, PIDNS_MSG_USAGE_SYSTEM, 0, micros(usage.ru_stime));
    send_report(init, PIDNS_MSG_USAGE_MAXRSS, 0, usage.ru_maxrss);
  }
  int code = own_exit_code(init, exit_status);
  say(init, "exiting with %d", code);
  exit(code);
}

static void begin_teardown(struct init *init, int exit_status);

/* A signal to every other process of the namespace (pid 1), or to every descendant. ESRCH:
 * nobody else is left. */
static void signal_all(const struct init *init, int sig) {
  if (init->is_pid1)
    (void)kill(-1, sig);
  else
    (void)signal_descendants(sig);
}

/* SIGTERM to all, then SIGCONT: a stopped process could not act on its SIGTERM and would sit out
 * the whole grace (service managers do the same). Whatever goes wrong, the grace wait still
 * reaps. */
static void terminate_all(const struct init *init) {
  signal_all(init, SIGTERM);
  signal_all(init, SIGCONT);
}

static void command_ended(struct init *init, int wait_status, bool no_children) {
  int status = exit_status_of(wait_status);
  if (WIFSIGNALED(wait_status))
    say(init, "the command was killed by signal %d (status %d)", WTERMSIG(wait_status), status);
  else
    say(init, "the command exited with %d", status);
  if (!init->opt.wait_all || init->opt.pause) {
    begin_teardown(init, status);
    return;
  }
  init->waiting_for_rest = true;
  init->exit_status = status;
  if (!no_children) say(init, "waiting for the other descendants to exit (--wait-all)");
}

static void reap_and_report(struct init *init) {
  bool ended = false;
  int command_status = 0;
  bool no_children = reap_children(init, &ended, &command_status);
  if (ended) send_message(init, PIDNS_MSG_EXITED, command_status);
  if (no_children) {
    for (; init->empty_wanted > 0; init->empty_wanted--) send_message(init, PIDNS_MSG_EMPTY, 0);
  }
  if (ended) command_ended(init, command_status, no_children);
  if (no_children && (init->tearing_down || init->waiting_for_rest)) end_namespace(init, init->exit_status);
}

/* Every process left in the namespace is killed when the command ends; a grace gives them SIGTERM
 * first and waits until they are gone or the grace ends. */
static void begin_teardown(struct init *init, int exit_status) {
  if (init->opt.grace_ms == 0) end_namespace(init, exit_status);
  init->tearing_down = true;
  init->exit_status = exit_status;
  init->grace_end_ms = monotonic_ms() + init->opt.grace_ms;
  say(init, "sending SIGTERM to what is left, SIGKILL in %d ms", init->opt.grace_ms);
  terminate_all(init);
  reap_and_report(init);
}

static void forward_signal(const struct init *init, int sig) {
  char buf[16];
  if (init->waiting_for_rest) {
    say(init, "passing %s to what is left", name_of(sig, buf));
    signal_all(init, sig);
    return;
  }
  /* Once reaped, the command's pid may belong to someone else. */
  if (init->command_pid == 0) return;
  pid_t target = init->opt.signal_group ? -init->command_pid : init->command_pid;
  say(init, "passing %s to %s %d", name_of(sig, buf), init->opt.signal_group ? "process group" : "pid", init->command_pid);
  /* ESRCH: the group has no member left. EPERM: the command changed credentials. Neither can be
   * helped from here. */
  (void)kill(target, sig);
}

static void handle_signals(struct init *init) {
  struct signalfd_siginfo infos[16];
  for (;;) {
    ssize_t n = read(init->signal_fd, infos, sizeof infos);
    if (n == -1 && errno == EAGAIN) break;
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) die("read signalfd");
    size_t count = (size_t)n / sizeof infos[0];
    /* The signalfd hands over lower numbers first, so a SIGTERM comes before the SIGCHLD of a
     * command that ended meanwhile: reaping first sends it to what is left (--wait-all) instead
     * of to the command's zombie. Forwarding goes by the pid of a command not yet reaped, so it
     * never reaches a recycled pid. */
    for (size_t k = 0; k < count; k++) {
      if (infos[k].ssi_signo == SIGCHLD) {
        reap_and_report(init);
        break;
      }
    }
    for (size_t k = 0; k < count; k++) {
      int sig = (int)infos[k].ssi_signo;
      if (sig == SIGCHLD || init->tearing_down)
        continue;
      else if (!init->opt.pause)
        forward_signal(init, sig);
      else if (sig == SIGTERM || sig == SIGINT)
        begin_teardown(init, 0);
    }
  }
}

static void request_termination(struct init *init) {
  init->empty_wanted++;
  terminate_all(init);
  reap_and_report(init);
}

static _Noreturn void request_kill(struct init *init) {
  say(init, "asked to end everything");
  if (init->command_pid != 0) {
    (void)kill(init->command_pid, SIGKILL);
    int status;
    while (waitpid(init->command_pid, &status, 0) == -1) {
      if (errno != EINTR) die("waitpid");
    }
    init->command_pid = 0;
    send_message(init, PIDNS_MSG_EXITED, status);
    init->exit_status = exit_status_of(status);
  }
  end_namespace(init, init->exit_status);
}

static void handle_control(struct init *init) {
  for (;;) {
    struct pidns_msg msg;
    ssize_t n = recv(init->control_fd, &msg, sizeof msg, MSG_DONTWAIT);
    if (n == -1 && errno == EAGAIN) return;
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) {
      /* EOF or a reset: the Node process is gone. As pid 1, this exit takes the namespace with
       * it; otherwise the init ends its descendants first. */
      if (init->opt.die_with_parent) {
        say(init, "the control channel closed: ending everything");
        if (!init->is_pid1) end_descendants(init);
        exit(EXIT_PARENT_GONE);
      }
      close(init->control_fd);
      init->control_fd = -1;
      return;
    }
    if (n == (ssize_t)sizeof msg && msg.type == PIDNS_REQ_TERMINATE) request_termination(init);
    if (n == (ssize_t)sizeof msg && msg.type == PIDNS_REQ_KILL) request_kill(init);
  }
}

static _Noreturn void run_event_loop(struct init *init) {
  for (;;) {
    int timeout = -1;
    if (init->tearing_down) {
      long long left = init->grace_end_ms - monotonic_ms();
      if (left <= 0) end_namespace(init, init->exit_status);
      timeout = (int)left;
    }
    /* poll() skips an entry whose fd is negative. */
    struct pollfd fds[2] = {
        {.fd = init->signal_fd, .events = POLLIN},
        {.fd = init->control_fd, .events = POLLIN},
    };
    if (poll(fds, 2, timeout) == -1) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[0].revents != 0) handle_signals(init);
    if (fds[1].revents != 0) handle_control(init);
  }
}

int main(int argc, char **argv) {
  /* A set-uid, set-gid or file-capability copy would run any command with the owner's
   * privileges for whoever can run it. */
  if (getauxval(AT_SECURE) != 0) {
    fputs("pidns-init: refusing to run with privileges its caller does not have (set-uid, set-gid or file capabilities)\n", stderr);
    exit(EXIT_INIT_FAILED);
  }
  struct init init = {.opt = parse_options(argc, argv), .is_pid1 = getpid() == 1, .signal_fd = -1};
  init.control_fd = init.opt.control_fd;
  /* Before anything is forked: the command must never hold the channel. */
  if (init.control_fd >= 0 && fcntl(init.control_fd, F_SETFD, FD_CLOEXEC) == -1)
    usage_error("--control-fd %d: %s", init.control_fd, strerror(errno));

  /* Not dumpable: a command running as the same uid can then neither ptrace the init nor take
   * its control socket with pidfd_getfd, nor open its /proc files (both need PTRACE_MODE_ATTACH,
   * which a non-dumpable process grants only to holders of CAP_SYS_PTRACE in its user
   * namespace). The command gets a dumpable process again from its own execve. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) start_failed(&init, "prctl(PR_SET_DUMPABLE)", errno);
  fill_standard_fds(&init);
  /* In the terminal's job that Node belongs to, the init would get the shell's job-control
   * signals (SIGCONT on fg) too and pass them to the command before Node has handed it the
   * terminal. In a group of its own it gets only what Node sends. */
  /* EPERM: the init leads a session (a container's pid 1 under docker run -t), and so its group. */
  if (init.opt.foreground && setpgid(0, 0) == -1 && errno != EPERM) start_failed(&init, "setpgid", errno);
  /* Run on its own from the terminal's foreground group (as a container's pid 1 under docker run
   * -t is): the command's group takes the terminal, as a shell gives it to a job, so that it can
   * read from it and use job control. The library hands the terminal over itself (--foreground),
   * and never from the init's group, which is Node's. */
  init.own_group = init.opt.signal_group || init.opt.foreground || init.control_fd < 0;
  if (init.control_fd < 0 && !init.opt.terminal) {
    pid_t foreground_group;
    init.terminal_to_group = ioctl(STDIN_FILENO, TIOCGPGRP, &foreground_group) == 0 &&
                             foreground_group == (pid_t)syscall(__NR_getpgid, 0);
  }
  setup_signals(&init);
  if (!init.is_pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
    start_failed(&init, "prctl(PR_SET_CHILD_SUBREAPER)", errno);
  if (init.opt.parent_death_signal != 0) {
    /* Blocked like every other, it is read from the signalfd and passed on to the command (only
     * SIGKILL acts on the init itself). A parent already gone before the prctl changed the
     * parent, and the signal is then raised here. */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)init.opt.parent_death_signal, 0, 0, 0) == -1)
      start_failed(&init, "prctl(PR_SET_PDEATHSIG)", errno);
    if (getppid() != parent) (void)kill(getpid(), init.opt.parent_death_signal);
  }
  if (init.is_pid1)
    say(&init, "pid 1 of its PID namespace");
  else
    say(&init, "pid %d, a child subreaper (not pid 1)", getpid());

  /* In pause mode STARTED (value 0) says the init is ready: its signals are blocked, so a SIGTERM
   * from now on is read from the signalfd instead of acting by default. */
  /* Pid 1 must not keep a directory busy (a mount point it sits in could not be unmounted while
   * the namespace lives), so it works from /; the command starts where the init was started. */
  /* A directory the caller entered before the init's ids were set may not be searchable by them
   * (EACCES): the init then stays in it, which only keeps it busy. */
  int start_dir = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (start_dir == -1 && errno != EACCES) start_failed_at(&init, "open .", errno, PIDNS_START_CHDIR);
  if (start_dir != -1 && chdir("/") == -1) start_failed_at(&init, "chdir /", errno, PIDNS_START_CHDIR);
  if (!init.opt.pause) {
    init.command_pid = start_command(&init, start_dir);
    say(&init, "started %s as pid %d", init.opt.command[0], init.command_pid);
  }
  if (start_dir != -1) close(start_dir);
  send_message(&init, PIDNS_MSG_STARTED, init.command_pid);
  release_stdio(&init);
  release_command_fds(&init);
  run_event_loop(&init);
}
