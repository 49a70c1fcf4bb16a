// The numbers the Node side shares with the init program: src-native/protocol.h is their source,
// and test/protocol.test.ts fails on any difference between the two. (The addon's ControlChannel
// reports end of file as type 0.)

/** Message types of the control channel (enum pidns_msg_type). */
export const MSG_CHILD = 1;
export const MSG_STARTED = 2;
export const MSG_EXEC_FAILED = 3;
export const MSG_EXITED = 4;
export const MSG_EMPTY = 5;
export const MSG_USAGE_USER = 6;
export const MSG_USAGE_SYSTEM = 7;
export const MSG_USAGE_MAXRSS = 8;
export const MSG_STOPPED = 9;
export const REQ_TERMINATE = 16;
export const REQ_KILL = 17;

/** PIDNS_MSG_EXEC_FAILED's amount: the call that failed in the command's process, by enum pidns_start_step. */
export const START_STEP_SYSCALLS = ['execve', 'setgroups', 'setgid', 'setuid', 'chdir', 'ioctl'] as const;

/** Exit statuses of pidns-init and of the pidns command line when they fail themselves (enum pidns_exit_code). */
export const EXIT_USAGE = 2;
export const EXIT_FAILED = 125;
export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;
