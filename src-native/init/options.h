/*
 * pidns-init's command line: its long options (what the library passes) and the short ones users
 * of tini and dumb-init reach for when it is a container's entrypoint.
 */
#ifndef PIDNS_INIT_OPTIONS_H
#define PIDNS_INIT_OPTIONS_H

#include "system.h"

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
  /* When the command ends, wait for every other descendant to exit instead of ending them. */
  bool wait_all;
  /* Say on stderr what the init does. */
  bool verbose;
  /* The signal the init asks for when its parent dies (PR_SET_PDEATHSIG), 0 for none. */
  int parent_death_signal;
  /* Exit codes (0 to 255) the init turns into 0 as its own, one bit each. */
  unsigned char success_codes[256 / 8];
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

/* Exits with PIDNS_EXIT_USAGE and a message on stderr on anything it does not understand; exits 0
 * after printing the usage for -h and --help. */
struct options parse_options(int argc, char **argv);

__attribute__((format(printf, 1, 2))) _Noreturn void usage_error(const char *format, ...);

/* "SIGTERM" for 15, or NULL for a number without a name (the real-time signals). */
const char *signal_name(int sig);

#endif
