// A command under the bundled init: the init is our child and pid 1, it forks the command as
// pid 2 and reports through its session (init-session.ts): the command's pid and a pidfd of it,
// whether execve worked, its exact wait status, and what the namespace used.
import * as os from 'os';
import type { ChildControl, PidNamespaceChild } from './child';
import { PidnsSystemError, systemError } from './errors';
import { ForegroundJob } from './foreground';
import { startInit, type InitSession } from './init-session';
import { initPath, native, usePidfd, type NativeProcessHandle } from './native';
import { childByNsPid, isHeld, startTimeOf } from './proc';
import { decodeWaitStatus, signalNumber } from './signals';
import { failureContext, finish, newChild, type Context } from './spawn-context';
import { ownedDescriptors, prepareStdio, releaseStdio } from './stdio';

const SIGKILL = signalNumber('SIGKILL');
const SIGSTOP = signalNumber('SIGSTOP');
const SIGCONT = signalNumber('SIGCONT');
const { ESRCH, ENOSYS } = os.constants.errno;
/** How long past its grace an init may take to report an ended command before it is ended. */
const STUCK_INIT_MS = 2000;

/**
 * newNamespace false: the init is a child subreaper in our own PID namespace (options.newNamespace),
 * where its pid and the command's are the same inside and out.
 */
export function spawnUnderInit(ctx: Context, newNamespace: boolean): Promise<PidNamespaceChild> {
  const stdio = prepareStdio(ctx.opts.stdio, ctx.action, ctx.opts.terminal);
  return new Promise((resolve, reject) => {
    let commandPid = -1;
    let commandHandle: NativeProcessHandle | null = null;
    let stuckInitTimer: NodeJS.Timeout | null = null;
    // Once the command has ended, the init reaps and reports it at once, or after the grace it
    // gives the others. An init that has done neither by then and is held stopped (by a tracer
    // inside, which only root there can be, or a stop signal) is ended, so that `exited` always
    // comes and nothing stays behind. One that is merely slow (a loaded machine) is left to run.
    // Without a namespace, SIGKILL of the init would leave the rest running: a held init is first
    // continued and asked to end everything, and killed only if it is held again after that.
    let continued = newNamespace;
    const watchStuckInit = (delay = ctx.opts.teardownGraceMs + STUCK_INIT_MS) => {
      stuckInitTimer = setTimeout(() => {
        if (!isHeld(init.pid)) {
          watchStuckInit(STUCK_INIT_MS);
        } else if (!continued) {
          continued = true;
          init.handle.signal(SIGCONT);
          init.kill();
          watchStuckInit(STUCK_INIT_MS);
        } else {
          init.handle.signal(SIGKILL);
        }
      }, delay);
      stuckInitTimer.unref();
    };
    let execFailure: { errno: number; syscall: string } | null = null;
    let streamFailure: unknown = null;
    let commandStatus: number | undefined;
    /** Without a namespace: when the command started, to tell it from a later process of its pid. */
    let commandStart: string | null = null;
    // Through its pidfd; without pidfds, by pid if that pid still names the command (its start
    // time is the same): it is no child of ours, and a pid alone may have been reused.
    const killOrphanedCommand = () => {
      const handle = commandHandle as NativeProcessHandle | null;
      if (handle) {
        handle.signal(SIGKILL);
      } else if (commandPid > 0 && commandStart !== null && startTimeOf(commandPid) === commandStart) {
        try {
          process.kill(commandPid, SIGKILL);
        } catch {
          // gone meanwhile
        }
      }
    };
    /** SIGKILL was delivered to the command through its pidfd (kill()). */
    let killedCommand = false;
    let child: PidNamespaceChild | null = null;
    let justStarted = false;
    let job: ForegroundJob | null = null;

    let init!: InitSession;
    let control!: ChildControl;
    const starting = startInit({ kind: 'init', opts: ctx.opts, file: ctx.file, fdMap: stdio.fdMap, ownedFds: ownedDescriptors(stdio), cgroupFd: ctx.cgroup?.fd ?? -1, withTerminal: ctx.withTerminal, newNamespace }, {
      child(pid, pidfd) {
        commandPid = pid;
        if (!newNamespace) commandStart = startTimeOf(pid);
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
          const initInfo = { pid: init.pid, nsPid: newNamespace ? 1 : init.pid };
          child = newChild(ctx, stdio, { pid: commandPid, nsPid, init: initInfo, namespaceId: init.namespaceId, pidNamespace: newNamespace ? 'new' : 'caller', control });
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
        // The caller's `await` resumes after this callback; until the loop turns, an end that
        // comes in the same callback (the init's exit, draining the last messages) waits.
        justStarted = true;
        setImmediate(() => (justStarted = false));
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
        // An init that is not pid 1 and ended without reporting the command's end (something
        // killed it) leaves the command running: it is ended here, through its pidfd, so that
        // the status reported (the init's) is true of it.
        if (!newNamespace && commandStatus === undefined) killOrphanedCommand();
        commandHandle?.close();
        if (stuckInitTimer) clearTimeout(stuckInitTimer);
        job?.end();
        if (child) {
          // The init kills and reaps every process of the namespace before it exits and reports
          // what they used; the init's own rusage would also count the memory it shared with
          // Node before its execve. Without a report (the init was killed), what its reaping says.
          // Without a namespace, a command we killed through its pidfd died of that SIGKILL
          // (a wait status of 9), whatever the init, which may end before it reports, exits with.
          const lost = !newNamespace && killedCommand ? SIGKILL : initStatus;
          const ended = child;
          const status = decodeWaitStatus(commandStatus ?? lost, treeUsage ?? usage);
          // Never 'exit' or 'close' before the caller has the child to listen on.
          if (justStarted) setImmediate(() => finish(ended, ctx.cgroup, status));
          else finish(ended, ctx.cgroup, status);
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
    // The init's events come from the loop, after this (startInit resolves before any).
    starting.then((session) => {
      init = session;
      releaseStdio(stdio, false);
      control = initControl(init, () => commandHandle, ctx.opts.signalGroup, newNamespace, ctx.opts.waitForDescendants, () => (killedCommand = true));
    }, (err) => {
      releaseStdio(stdio, true);
      reject(err);
    });
  });
}

/**
 * Where kill() sends a signal under the init: to the command through its pidfd when there is one,
 * else through the init, which forwards it (to the whole group with signalGroup; to what is left
 * once the command has ended, with waitForDescendants). SIGKILL cannot be forwarded: it kills the
 * init, which ends a namespace, group included; without a namespace the init is asked to end
 * everything instead (and continued, in case something stopped it).
 */
function initControl(init: InitSession, commandHandle: () => NativeProcessHandle | null, signalGroup: boolean, newNamespace: boolean, waitForDescendants: boolean, killedCommand: () => void): ChildControl {
  const initHandle = init.handle;
  return {
    signal(signo) {
      const command = commandHandle();
      const viaInit = signalGroup ? signo !== SIGSTOP && (signo !== SIGKILL || newNamespace) : signo === SIGKILL && !command;
      let err = ENOSYS;
      if (!viaInit && command) err = command.signal(signo);
      if (!viaInit && command && signo === SIGKILL && err === 0) killedCommand();
      if (err === ESRCH && waitForDescendants && signo !== SIGKILL) err = initHandle.signal(signo);
      if (err === ENOSYS && (signo !== SIGKILL || newNamespace)) err = initHandle.signal(signo);
      if (signo !== SIGKILL) return err;
      // SIGKILL ends the namespace whatever state its init is in: a frozen init, or one stopped
      // by a tracer inside, could not reap or report, and a command already gone (the init
      // waiting out teardownGraceMs) leaves only the init to end.
      if (newNamespace) {
        const initErr = initHandle.signal(SIGKILL);
        if (err === ESRCH) err = initErr;
        return err;
      }
      initHandle.signal(SIGCONT);
      const initErr = init.kill();
      return err === ESRCH || err === ENOSYS ? initErr : err;
    },
    ref: () => initHandle.ref(),
    unref: () => initHandle.unref(),
  };
}
