// A command under the bundled init: the init is our child and pid 1, it forks the command as
// pid 2 and reports through its session (init-session.ts): the command's pid and a pidfd of it,
// whether execve worked, its exact wait status, and what the namespace used.
import * as os from 'os';
import type { ChildControl, PidNamespaceChild } from './child';
import { PidnsSystemError, systemError } from './errors';
import { ForegroundJob } from './foreground';
import { startInit, type InitSession } from './init-session';
import { initPath, native, usePidfd, type NativeProcessHandle } from './native';
import { childByNsPid, isHeld } from './proc';
import { decodeWaitStatus, signalNumber } from './signals';
import { failureContext, finish, newChild, type Context } from './spawn-context';
import { prepareStdio, releaseStdio } from './stdio';

const SIGKILL = signalNumber('SIGKILL');
const SIGSTOP = signalNumber('SIGSTOP');
const { ESRCH, ENOSYS } = os.constants.errno;
/** How long past its grace an init may take to report an ended command before it is ended. */
const STUCK_INIT_MS = 2000;

export function spawnUnderInit(ctx: Context): Promise<PidNamespaceChild> {
  const stdio = prepareStdio(ctx.opts.stdio, ctx.action, ctx.opts.terminal);
  return new Promise((resolve, reject) => {
    let commandPid = -1;
    let commandHandle: NativeProcessHandle | null = null;
    let stuckInitTimer: NodeJS.Timeout | null = null;
    // Once the command has ended, the init reaps and reports it at once, or after the grace it
    // gives the others. An init that has done neither by then and is held stopped (by a tracer
    // inside, which only root there can be, or a stop signal) is ended, so that `exited` always
    // comes and nothing stays behind. One that is merely slow (a loaded machine) is left to run.
    const watchStuckInit = (delay = ctx.opts.teardownGraceMs + STUCK_INIT_MS) => {
      stuckInitTimer = setTimeout(() => {
        if (isHeld(init.pid)) init.handle.signal(SIGKILL);
        else watchStuckInit(STUCK_INIT_MS);
      }, delay);
      stuckInitTimer.unref();
    };
    let execFailure: { errno: number; syscall: string } | null = null;
    let streamFailure: unknown = null;
    let commandStatus: number | undefined;
    let child: PidNamespaceChild | null = null;
    let job: ForegroundJob | null = null;

    let init: InitSession;
    try {
      init = startInit({ kind: 'init', opts: ctx.opts, file: ctx.file, fdMap: stdio.fdMap, cgroupFd: ctx.cgroup?.fd ?? -1, withTerminal: ctx.withTerminal }, {
        child(pid, pidfd) {
          commandPid = pid;
          if (pidfd < 0) return;
          // Not our child: its pidfd only tells when it has ended (see watchStuckInit).
          if (usePidfd) {
            commandHandle = new native.ProcessHandle(pid, pidfd, () => watchStuckInit(), true);
            commandHandle.unref();
          } else {
            native.closeFd(pidfd);
          }
        },
        started(nsPid) {
          // The command's own report carries its pid as credentials; if it was lost (Node's
          // descriptor table was full, or the socket's buffer), the kernel's list of the init's
          // children has it. The command is a zombie of the init at worst, so it is still listed.
          if (commandPid === -1) commandPid = childByNsPid(init.pid, nsPid);
          try {
            child = newChild(ctx, stdio, { pid: commandPid, nsPid, init: { pid: init.pid, nsPid: 1 }, namespaceId: init.namespaceId, control });
          } catch (err) {
            // Its streams could not be set up (the event loop refused a descriptor): the
            // namespace is ended, and the spawn rejects with the reason once the init is reaped.
            streamFailure = err;
            init.handle.signal(SIGKILL);
            return;
          }
          if (ctx.opts.foreground) {
            const ownGroup = ctx.opts.signalGroup || ctx.withTerminal;
            job = new ForegroundJob(commandPid, ownGroup, ctx.withTerminal, (signo) => control.signal(signo));
          }
          resolve(child);
        },
        execFailed(errno, syscall) {
          execFailure = { errno, syscall };
        },
        exited(waitStatus) {
          commandStatus = waitStatus;
        },
        stopped(signo) {
          job?.commandStopped(signo);
        },
        end(initStatus, treeUsage, usage) {
          commandHandle?.close();
          if (stuckInitTimer) clearTimeout(stuckInitTimer);
          job?.end();
          if (child) {
            // The init kills and reaps every process of the namespace before it exits and reports
            // what they used; the init's own rusage would also count the memory it shared with
            // Node before its execve. Without a report (the init was killed), what its reaping says.
            finish(child, ctx.cgroup, decodeWaitStatus(commandStatus ?? initStatus, treeUsage ?? usage));
            return;
          }
          if (streamFailure) {
            reject(streamFailure);
            return;
          }
          releaseStdio(stdio, true);
          if (execFailure) {
            reject(systemError(execFailure.errno, execFailure.syscall, failureContext(ctx, execFailure.syscall)));
            return;
          }
          const status = decodeWaitStatus(initStatus);
          reject(new PidnsSystemError({
            code: 'ERR_INIT_FAILED',
            errno: -ESRCH,
            syscall: 'spawn',
            path: initPath,
            spawnargs: ctx.spawnargs,
            message: `${ctx.action}: the init ended before the command started (${status.signal ?? `exit ${status.code}`})`,
          }));
        },
      }, (errno, syscall) => systemError(errno, syscall, failureContext(ctx, syscall)));
    } catch (err) {
      releaseStdio(stdio, true);
      reject(err);
      return;
    }
    releaseStdio(stdio, false);
    const control = initControl(init.handle, () => commandHandle, ctx.opts.signalGroup);
  });
}

/**
 * Where kill() sends a signal under the init: to the command through its pidfd when there is one,
 * else through the init, which forwards it (to the whole group with signalGroup). SIGKILL cannot
 * be forwarded, but killing the init ends the namespace, group included.
 */
function initControl(initHandle: NativeProcessHandle, commandHandle: () => NativeProcessHandle | null, signalGroup: boolean): ChildControl {
  return {
    signal(signo) {
      const command = commandHandle();
      const viaInit = signalGroup ? signo !== SIGSTOP : signo === SIGKILL && !command;
      let err = ENOSYS;
      if (!viaInit && command) err = command.signal(signo);
      if (err === ENOSYS) err = initHandle.signal(signo);
      // SIGKILL ends the namespace whatever state its init is in: a frozen init, or one stopped
      // by a tracer inside, could not reap or report, and a command already gone (the init
      // waiting out teardownGraceMs) leaves only the init to end.
      if (signo === SIGKILL) {
        const initErr = initHandle.signal(SIGKILL);
        if (err === ESRCH) err = initErr;
      }
      return err;
    },
    ref: () => initHandle.ref(),
    unref: () => initHandle.unref(),
  };
}
