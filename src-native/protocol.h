/*
 * The control channel between the Node process and a pidns init.
 *
 * One AF_UNIX SOCK_SEQPACKET socket pair per init. Node keeps one end (close-on-exec); the
 * init gets the other as the descriptor named by `--control-fd N` and marks it close-on-exec at
 * once, so the command never holds it. Every message is one struct pidns_msg; message boundaries
 * are kept by SEQPACKET. EOF on the init's end means the Node process is gone. Node sets
 * SO_PASSCRED on its end before the init starts, or the kernel drops the credentials.
 */
#ifndef PIDNS_PROTOCOL_H
#define PIDNS_PROTOCOL_H

#include <stdint.h>

enum pidns_msg_type {
  /* init -> Node, sent by the command's own process (forked by the init) just before execve.
   * Carries SCM_CREDENTIALS (its pid, which the kernel translates into the receiver's namespace)
   * and, when pidfd_open works, SCM_RIGHTS with a pidfd of itself. value: its pid inside. */
  PIDNS_MSG_CHILD = 1,
  /* init -> Node: the command was exec'd. value: its pid inside the namespace. With --pause: the
   * init is ready (its signals are blocked), value 0. */
  PIDNS_MSG_STARTED = 2,
  /* init -> Node: the command could not be started. value: errno; amount: the step that failed
   * (enum pidns_start_step). The init then exits 127 for ENOENT, 126 otherwise. */
  PIDNS_MSG_EXEC_FAILED = 3,
  /* init -> Node: the command ended. value: its wait status exactly as waitpid() gave it. */
  PIDNS_MSG_EXITED = 4,
  /* init -> Node: answer to PIDNS_REQ_TERMINATE once the init has no child left. value: 0. */
  PIDNS_MSG_EMPTY = 5,
  /* init -> Node, just before it exits at the end of the command, once it has killed and reaped
   * every other process of the namespace (every descendant, when not pid 1): what the kernel accounted to all of them
   * (getrusage RUSAGE_CHILDREN), in `amount`: user and system CPU time in microseconds, and the
   * largest resident set of any one of them in kilobytes. */
  PIDNS_MSG_USAGE_USER = 6,
  PIDNS_MSG_USAGE_SYSTEM = 7,
  PIDNS_MSG_USAGE_MAXRSS = 8,
  /* init -> Node: the command was stopped. value: the signal that stopped it. */
  PIDNS_MSG_STOPPED = 9,
  /* Node -> init: as pid 1, send SIGTERM to every other process of the namespace; then answer
   * PIDNS_MSG_EMPTY when the init has no child left (members that joined with setns are children
   * of whoever started them, not of the init). value: unused. */
  PIDNS_REQ_TERMINATE = 16,
  /* Node -> init: end everything now, as when the command ends with no grace: the command, if it
   * still runs, is killed and its status reported (PIDNS_MSG_EXITED), then every other process
   * of the namespace (or every descendant, when the init is not pid 1) is killed and reaped, and
   * the init exits. Where the init is not pid 1, SIGKILL to it would leave its descendants
   * running; this is what ends them. value: unused. */
  PIDNS_REQ_KILL = 17,
};

/* What failed in the command's process before it ran (PIDNS_MSG_EXEC_FAILED's amount). */
enum pidns_start_step {
  PIDNS_START_EXECVE = 0,
  PIDNS_START_SETGROUPS = 1,
  PIDNS_START_SETGID = 2,
  PIDNS_START_SETUID = 3,
  PIDNS_START_CHDIR = 4,
  PIDNS_START_TERMINAL = 5,
};

/* The exit statuses of pidns-init and of the pidns command line when they fail themselves; a
 * command's own status (and 128+N for a signal) passes through unchanged. lib/protocol.ts
 * carries the same numbers (test/protocol.test.ts compares the two). */
enum pidns_exit_code {
  PIDNS_EXIT_USAGE = 2,
  /* pidns itself failed (the init after the command started, or the command line). */
  PIDNS_EXIT_FAILED = 125,
  /* The command was found but could not be run. */
  PIDNS_EXIT_CANNOT_EXECUTE = 126,
  /* The command was not found. */
  PIDNS_EXIT_NOT_FOUND = 127,
};

struct pidns_msg {
  uint32_t type;
  int32_t value;
  int64_t amount; /* the usage messages' figure; 0 otherwise */
};

#endif
