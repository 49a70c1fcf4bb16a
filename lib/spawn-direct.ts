// A command exec'd by our own child: pid 1 of a new namespace (init: false), or a process joining
// an existing namespace.
import type { EnteredTarget } from './enter';
import { ForegroundJob } from './foreground';
import { systemError } from './errors';
import { closeJoinTarget, openJoinTarget } from './namespace-files';
import { isFailure, native, type NativeFailure, type NativeSpawnResult } from './native';
import { pidNamespaceId } from './proc';
import { nativeRequest, runRequest, type JoinFds } from './request';
import { decodeWaitStatus, signalNumber } from './signals';
import { finish, failureContext, newChild, type Context } from './spawn-context';
import { ownedDescriptors, prepareStdio, releaseStdio } from './stdio';
import type { PidNamespaceChild } from './child';

const SIGKILL = signalNumber('SIGKILL');

/** join: the namespace to join, and with joinNamespaces (entered) the target's others. */
export async function spawnDirect(ctx: Context, join: JoinFds | null = null, entered: EnteredTarget | null = null): Promise<PidNamespaceChild> {
  const stdio = prepareStdio(ctx.opts.stdio, ctx.action, ctx.opts.terminal);
  let result: NativeSpawnResult | NativeFailure;
  try {
    result = await runRequest(nativeRequest({ kind: 'command', opts: ctx.opts, file: ctx.file, fdMap: stdio.fdMap, ownedFds: ownedDescriptors(stdio), cgroupFd: ctx.cgroup?.fd ?? -1, join, entered, withTerminal: ctx.withTerminal }));
  } catch (err) {
    releaseStdio(stdio, true);
    throw err;
  }
  if (isFailure(result)) {
    releaseStdio(stdio, true);
    // A refusal to enter one of the target's other namespaces, or its root or working directory,
    // names that file.
    const targetFile = entered && (result.syscall === 'chroot' ? 'root' : result.syscall === 'fchdir' ? 'cwd' : result.namespace && result.namespace !== 'pid' ? `ns/${result.namespace}` : null);
    const joinPath = targetFile ? `/proc/${entered!.pid}/${targetFile}` : join?.path;
    throw systemError(result.errno, result.syscall, { ...failureContext(ctx, result.syscall, joinPath), namespace: result.namespace });
  }
  releaseStdio(stdio, false);
  let child: PidNamespaceChild | null = null;
  let job: ForegroundJob | null = null;
  // The exit callback never runs before this function returns: it comes from the event loop.
  const handle = new native.ProcessHandle(result.pid, result.pidfd, (status, usage) => {
    job?.end();
    if (child) finish(child, ctx.cgroup, decodeWaitStatus(status, usage));
  });
  try {
    child = newChild(ctx, stdio, {
      pid: result.pid,
      nsPid: result.nsPid,
      init: null,
      namespaceId: result.namespaceId || pidNamespaceId(result.pid),
      pidNamespace: join ? 'joined' : 'new',
      control: handle,
    });
  } catch (err) {
    // Its streams could not be set up (the event loop refused a descriptor): the process is
    // ended, and reaped by its handle, rather than left running with nobody to wait for it.
    handle.signal(SIGKILL);
    throw err;
  }
  job = ctx.opts.foreground ? new ForegroundJob(result.pid, ctx.withTerminal, ctx.withTerminal, (signo) => handle.signal(signo)) : null;
  job?.watchChildStops();
  return child;
}

export async function spawnJoined(ctx: Context): Promise<PidNamespaceChild> {
  const target = openJoinTarget(ctx.opts.join!, ctx.action, ctx.spawnargs);
  try {
    return await spawnDirect(ctx, target);
  } finally {
    closeJoinTarget(target);
  }
}
