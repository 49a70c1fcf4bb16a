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
 * Run by hand (not pid 1) it becomes a child subreaper instead, and signals nothing but its command
 * (or the command's group), since kill(-1) there would reach every process of the host.
 */
/* build.sh builds it against freestanding/libc.h (no C library, fast to start) where it can, and
 * against the C library elsewhere; a new call needs both to declare it. */
#ifdef PIDNS_FREESTANDING
#include "freestanding/libc.h"
#else
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#include "../protocol.h"
#include "../raw_signal.h"

#define EXIT_USAGE PIDNS_EXIT_USAGE
/* The init itself failed after the command started (a "cannot happen" syscall failure). */
#define EXIT_INIT_FAILED PIDNS_EXIT_FAILED
#define EXIT_CANNOT_EXECUTE PIDNS_EXIT_CANNOT_EXECUTE
#define EXIT_NOT_FOUND PIDNS_EXIT_NOT_FOUND
#define EXIT_PARENT_GONE (128 + SIGKILL)

static const char usage_text[] =
    "usage: pidns-init [--control-fd N] [--signal-group] [--foreground] [--terminal] [--grace-ms MS] "
    "[--no-die-with-parent] [--uid UID] [--gid GID] [--groups-denied] [--argv0 NAME] [--pause] [--] CMD [ARGS...]";

struct options {
  int control_fd; /* -1: none */
  bool signal_group;
  /* The command leads a process group of its own, made the foreground group of the terminal on
   * stdin; the init leaves its parent's group too (see main). */
  bool foreground;
  /* stdin is a terminal that the command takes as its controlling terminal, leading a session
   * of its own; the init keeps no descriptor of it. */
  bool terminal;
  int grace_ms;
  bool die_with_parent;
  bool pause;
  /* The ids the command runs with (-1: the init's own). The init itself keeps the caller's, so
   * that a command running as another uid can neither signal, ptrace nor take descriptors from
   * it. */
  long uid;
  long gid;
  /* setgroups is denied in this user namespace: the supplementary groups cannot be dropped by
   * anyone there, and keeping them is no failure. */
  bool groups_denied;
  const char *argv0; /* NULL: CMD itself */
  char **command;    /* NULL with --pause */
};

struct init {
  struct options opt;
  bool is_pid1;
  int signal_fd;
  int control_fd;         /* -1 when absent, or once Node is gone (--no-die-with-parent) */
  pid_t command_pid;      /* 0 unless the command runs or is a zombie not yet reaped */
  unsigned empty_wanted;  /* PIDNS_REQ_TERMINATE requests not yet answered */
  bool tearing_down;
  int exit_status;        /* valid while tearing down */
  long long grace_end_ms; /* CLOCK_MONOTONIC, valid while tearing down */
};

__attribute__((format(printf, 1, 2))) static _Noreturn void usage_error(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("pidns-init: ", stderr);
  vfprintf(stderr, format, args);
  fprintf(stderr, "; %s\n", usage_text);
  va_end(args);
  exit(EXIT_USAGE);
}

static _Noreturn void die(const char *what) {
  fprintf(stderr, "pidns-init: %s: %s\n", what, strerror(errno));
  exit(EXIT_INIT_FAILED);
}

/* A number from 0 to max written in decimal digits and nothing else (strtol would also take
 * blanks, a sign and an empty string). Returns false for any other text or a larger number. */
static bool parse_decimal(const char *text, unsigned long max, unsigned long *value) {
  if (*text == '\0') return false;
  unsigned long n = 0;
  for (; *text != '\0'; text++) {
    if (*text < '0' || *text > '9') return false;
    unsigned long digit = (unsigned long)(*text - '0');
    if (digit > max || n > (max - digit) / 10) return false;
    n = n * 10 + digit;
  }
  *value = n;
  return true;
}

static int parse_count(const char *option, const char *text) {
  if (text == NULL) usage_error("%s needs a value", option);
  unsigned long value;
  if (!parse_decimal(text, INT_MAX, &value)) usage_error("%s: not a count: %s", option, text);
  return (int)value;
}

/* A uid or gid: 0 to 2^32 - 2 (2^32 - 1 is the kernel's "no id"). */
static long parse_id(const char *option, const char *text) {
  if (text == NULL) usage_error("%s needs a value", option);
  unsigned long value;
  if (!parse_decimal(text, 0xfffffffeUL, &value)) usage_error("%s: not an id: %s", option, text);
  return (long)value;
}

static struct options parse_options(int argc, char **argv) {
  struct options opt = {.control_fd = -1, .die_with_parent = true, .uid = -1, .gid = -1};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(arg, "--control-fd") == 0)
      opt.control_fd = parse_count(arg, argv[++i]);
    else if (strcmp(arg, "--grace-ms") == 0)
      opt.grace_ms = parse_count(arg, argv[++i]);
    else if (strcmp(arg, "--signal-group") == 0)
      opt.signal_group = true;
    else if (strcmp(arg, "--foreground") == 0)
      opt.foreground = true;
    else if (strcmp(arg, "--terminal") == 0)
      opt.terminal = true;
    else if (strcmp(arg, "--no-die-with-parent") == 0)
      opt.die_with_parent = false;
    else if (strcmp(arg, "--pause") == 0)
      opt.pause = true;
    else if (strcmp(arg, "--uid") == 0)
      opt.uid = parse_id(arg, argv[++i]);
    else if (strcmp(arg, "--gid") == 0)
      opt.gid = parse_id(arg, argv[++i]);
    else if (strcmp(arg, "--groups-denied") == 0)
      opt.groups_denied = true;
    else if (strcmp(arg, "--argv0") == 0) {
      opt.argv0 = argv[++i];
      if (opt.argv0 == NULL) usage_error("--argv0 needs a value");
    }
    else
      usage_error("unknown option %s", arg);
  }
  opt.command = i < argc ? &argv[i] : NULL;
  if (opt.pause && opt.command != NULL) usage_error("--pause takes no command, got %s", argv[i]);
  if (!opt.pause && opt.command == NULL) usage_error("missing command");
  /* The init points its own stdin and stdout at /dev/null, which would cut a channel there. */
  if (opt.control_fd >= 0 && opt.control_fd <= STDERR_FILENO)
    usage_error("--control-fd must be 3 or more, got %d", opt.control_fd);
  return opt;
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
  } else if ((init->opt.signal_group || init->opt.foreground) && setpgid(0, 0) == -1) {
    report_exec_error(exec_error_fd, PIDNS_START_TERMINAL);
  }
  if (init->opt.foreground) {
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

/* The init ends the namespace itself instead of leaving that to the kernel at its exit: the
 * kernel accounts the processes it kills then to nobody. So as pid 1 it kills and reaps every
 * process left (a process in the namespace whose parent is outside, a joined member, is killed
 * but reaped by that parent), then reports what all the processes it reaped used. */
static _Noreturn void end_namespace(const struct init *init, int exit_status) {
  if (init->is_pid1) {
    (void)kill(-1, SIGKILL); /* ESRCH: nobody else is left */
    for (;;) {
      if (waitpid(-1, NULL, 0) > 0 || errno == EINTR) continue;
      break; /* ECHILD */
    }
  }
  struct rusage usage;
  if (getrusage(RUSAGE_CHILDREN, &usage) == 0) {
    send_report(init, PIDNS_MSG_USAGE_USER, 0, micros(usage.ru_utime));
    send_report(init, PIDNS_MSG_USAGE_SYSTEM, 0, micros(usage.ru_stime));
    send_report(init, PIDNS_MSG_USAGE_MAXRSS, 0, usage.ru_maxrss);
  }
  exit(exit_status);
}

static void begin_teardown(struct init *init, int exit_status);

/* SIGTERM to every other process of the namespace, then SIGCONT: a stopped process could not act
 * on its SIGTERM and would sit out the whole grace (service managers do the same). ESRCH: nobody
 * else is left; whatever else goes wrong, the grace wait still reaps. */
static void terminate_all(void) {
  (void)kill(-1, SIGTERM);
  (void)kill(-1, SIGCONT);
}

static void reap_and_report(struct init *init) {
  bool command_ended = false;
  int command_status = 0;
  bool no_children = reap_children(init, &command_ended, &command_status);
  if (command_ended) send_message(init, PIDNS_MSG_EXITED, command_status);
  if (no_children) {
    for (; init->empty_wanted > 0; init->empty_wanted--) send_message(init, PIDNS_MSG_EMPTY, 0);
  }
  if (command_ended)
    begin_teardown(init, exit_status_of(command_status));
  else if (no_children && init->tearing_down)
    end_namespace(init, init->exit_status);
}

/* Every process left in the namespace is killed when the command ends; a grace gives them SIGTERM
 * first and waits until they are gone or the grace ends. */
static void begin_teardown(struct init *init, int exit_status) {
  if (init->opt.grace_ms == 0 || !init->is_pid1) end_namespace(init, exit_status);
  init->tearing_down = true;
  init->exit_status = exit_status;
  init->grace_end_ms = monotonic_ms() + init->opt.grace_ms;
  terminate_all();
  reap_and_report(init);
}

static void forward_signal(const struct init *init, int sig) {
  /* Once reaped, the command's pid may belong to someone else. */
  if (init->command_pid == 0) return;
  pid_t target = init->opt.signal_group ? -init->command_pid : init->command_pid;
  /* ESRCH: the group has no member left. EPERM: the command changed credentials. Neither can be
   * helped from here. */
  (void)kill(target, sig);
}

static void handle_signals(struct init *init) {
  struct signalfd_siginfo infos[16];
  bool children_changed = false;
  for (;;) {
    ssize_t n = read(init->signal_fd, infos, sizeof infos);
    if (n == -1 && errno == EAGAIN) break;
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) die("read signalfd");
    for (size_t k = 0; k < (size_t)n / sizeof infos[0]; k++) {
      int sig = (int)infos[k].ssi_signo;
      if (sig == SIGCHLD)
        children_changed = true;
      else if (init->tearing_down)
        continue;
      else if (!init->opt.pause)
        forward_signal(init, sig);
      else if (sig == SIGTERM || sig == SIGINT)
        begin_teardown(init, 0);
    }
  }
  /* Reaping after forwarding keeps the command a zombie, never a recycled pid, while signalled. */
  if (children_changed) reap_and_report(init);
}

static void request_termination(struct init *init) {
  init->empty_wanted++;
  if (init->is_pid1) terminate_all();
  reap_and_report(init);
}

static void handle_control(struct init *init) {
  for (;;) {
    struct pidns_msg msg;
    ssize_t n = recv(init->control_fd, &msg, sizeof msg, MSG_DONTWAIT);
    if (n == -1 && errno == EAGAIN) return;
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) {
      /* EOF or a reset: the Node process is gone. As pid 1, this exit takes the namespace with
       * it. */
      if (init->opt.die_with_parent) exit(EXIT_PARENT_GONE);
      close(init->control_fd);
      init->control_fd = -1;
      return;
    }
    if (n == (ssize_t)sizeof msg && msg.type == PIDNS_REQ_TERMINATE) request_termination(init);
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
  if (init.opt.foreground && setpgid(0, 0) == -1) start_failed(&init, "setpgid", errno);
  setup_signals(&init);
  if (!init.is_pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
    start_failed(&init, "prctl(PR_SET_CHILD_SUBREAPER)", errno);

  /* In pause mode STARTED (value 0) says the init is ready: its signals are blocked, so a SIGTERM
   * from now on is read from the signalfd instead of acting by default. */
  /* Pid 1 must not keep a directory busy (a mount point it sits in could not be unmounted while
   * the namespace lives), so it works from /; the command starts where the init was started. */
  /* A directory the caller entered before the init's ids were set may not be searchable by them
   * (EACCES): the init then stays in it, which only keeps it busy. */
  int start_dir = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (start_dir == -1 && errno != EACCES) start_failed_at(&init, "open .", errno, PIDNS_START_CHDIR);
  if (start_dir != -1 && chdir("/") == -1) start_failed_at(&init, "chdir /", errno, PIDNS_START_CHDIR);
  if (!init.opt.pause) init.command_pid = start_command(&init, start_dir);
  if (start_dir != -1) close(start_dir);
  send_message(&init, PIDNS_MSG_STARTED, init.command_pid);
  release_stdio(&init);
  release_command_fds(&init);
  run_event_loop(&init);
}
