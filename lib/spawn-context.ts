// What the ways of starting a command share: the spawn's context, the one place its
// PidNamespaceChild is made, and the end of a child.
import { CgroupPlacement } from './cgroup';
import { PidNamespaceChild, type ChildControl, type InitInfo, type PidNamespaceMode } from './child';
import type { FailureContext } from './errors';
import type { NormalizedOptions } from './options';
import type { ExitStatus } from './signals';
import { channelEnd, openStreams, openTerminalStream, type PreparedStdio } from './stdio';

export interface Context {
  opts: NormalizedOptions;
  /** The command's resolved path. */
  file: string;
  spawnargs: string[];
  /** How errors name what was being done: 'spawn CMD'. */
  action: string;
  /** Where the namespace's first process is created, or null. */
  cgroup: CgroupPlacement | null;
  /** options.foreground, and the caller's terminal is there to be handed over. */
  withTerminal: boolean;
}

/** How a refusal of `syscall` is reported: which path it concerns. */
export function failureContext(ctx: Context, syscall: string, joinPath?: string): FailureContext {
  const aboutTarget = syscall === 'setns' || syscall === 'chroot' || syscall === 'fchdir';
  const path = syscall === 'chdir' ? ctx.opts.cwd ?? undefined : aboutTarget ? joinPath : ctx.opts.command;
  // A refusal of the command's own exec or chdir is about the command, joined or not.
  const joining = joinPath !== undefined && syscall !== 'execve' && syscall !== 'chdir';
  return { action: ctx.action, path, spawnargs: ctx.spawnargs, joining, userNamespace: ctx.opts.userNamespace !== null, nsPid: ctx.opts.nsPid ?? undefined, newNamespaces: ctx.opts.namespaces.kinds };
}

/** The child object of a started command, with the streams of its prepared stdio. */
export function newChild(ctx: Context, stdio: PreparedStdio, process: { pid: number; nsPid: number; init: InitInfo | null; namespaceId: number; pidNamespace: PidNamespaceMode; control: ChildControl }): PidNamespaceChild {
  return new PidNamespaceChild({
    ...process,
    stdio: openStreams(stdio),
    terminal: openTerminalStream(stdio),
    cgroup: ctx.cgroup,
    spawnargs: ctx.spawnargs,
    spawnfile: ctx.opts.command,
    killSignal: ctx.opts.killSignal,
    channel: channelEnd(stdio, ctx.opts.serialization),
  });
}

/** The end of a child: a cgroup pidns made is killed and removed first, so that it is gone by then. */
export function finish(child: PidNamespaceChild, cgroup: CgroupPlacement | null, status: ExitStatus): void {
  if (!cgroup?.owned) {
    child._finish(status);
    return;
  }
  cgroup.remove().then(
    () => child._finish(status),
    () => child._finish(status),
  );
}
