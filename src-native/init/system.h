/*
 * What every file of pidns-init includes: the C library's headers, or freestanding/libc.h for the
 * build without one (build.sh), where a new call must be declared too.
 */
#ifndef PIDNS_INIT_SYSTEM_H
#define PIDNS_INIT_SYSTEM_H

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

#endif
