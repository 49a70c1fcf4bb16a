/*
 * The init's descendants when it is not pid 1 (a container's second init, Kubernetes'
 * shareProcessNamespace, the library's mode without a new namespace). There, kill(-1) would reach
 * every process the init may signal on the machine, so the descendants are found in /proc instead:
 * every process whose chain of parents leads to the init.
 */
#ifndef PIDNS_INIT_DESCENDANTS_H
#define PIDNS_INIT_DESCENDANTS_H

#include "system.h"

/* Sends sig to every descendant of the calling process (up to 16384 at a time). Returns how many
 * it was sent to; -1 when /proc cannot be read (errno says why: not mounted, or no descriptor
 * left), -2 when the /proc mounted is another PID namespace's. A descendant that is not a child is
 * signalled through a pidfd opened after its parent was read, and only if its parent is still the
 * one read, so a pid reused meanwhile is never signalled. */
int signal_descendants(int sig);

#endif
