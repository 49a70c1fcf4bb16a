/*
 * The new namespaces a spawn makes besides the PID and user namespaces (options.namespaces), set
 * up by the process that execs (pid 1 of the new PID namespace: the init, or the command when
 * raw) before its execve, so that no process of them ever sees them unprepared. Everything here
 * runs between clone and execve: see the rules in child.h.
 */
#ifndef PIDNS_NAMESPACES_H
#define PIDNS_NAMESPACES_H

#include "child.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* The namespaces clone() itself makes, together with the PID namespace. CLONE_NEWTIME is not
 * among them: its bit is the exit signal's in clone()'s flags (only clone3 and unshare take it). */
#define PIDNS_CLONE_NAMESPACES (CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)

/* Brings up the loopback interface of the calling thread's network namespace, as `ip link set lo
 * up` does: 0, or -1 with errno set. */
PIDNS_CHILD_CODE int pidns_loopback_up(void);

/* Sets up c->new_namespaces in the calling process, which clone() has already put into those of
 * PIDNS_CLONE_NAMESPACES: private mount propagation, the cgroup and time namespaces (unshared
 * here), the time offsets, the host name, the loopback interface up. Returns PIDNS_STEP_NONE, or
 * the step that failed with errno set. */
PIDNS_CHILD_CODE int pidns_prepare_namespaces(struct pidns_child *c);

#ifdef __cplusplus
}
#endif

#endif
