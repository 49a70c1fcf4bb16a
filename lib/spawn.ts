// spawnInPidNamespace(): start a command in a new PID namespace (under the init, or as pid 1) or
// in an existing one. This module checks, resolves and places; spawn-init.ts and spawn-direct.ts
// start the processes.
import type { PidNamespaceChild } from './child';
import { CgroupPlacement } from './cgroup';
import { abortError, armKillers } from './deadline';
import { closeEnterTarget, openEnterTarget } from './enter';
import { PidnsSystemError, systemError } from './errors';
import { terminalIsOurs } from './foreground';
import { normalizeSpawnArguments, type NormalizedOptions, type SpawnOptions } from './options';
import { checkPidMaxSupported } from './pid-control';
import { checkProcIsOurs } from './proc';
import { resolveCommand } from './resolve';
import { resolveCommandInRoot } from './resolve-in-root';
import type { Context } from './spawn-context';
import { spawnDirect, spawnJoined } from './spawn-direct';
import { spawnUnderInit } from './spawn-init';
import { checkStdioOpen } from './stdio';

/**
 * Starts `command` in a PID namespace and resolves once it has been exec'd.
 *
 * By default a new namespace is created with the bundled init as pid 1 and the command as pid 2;
 * `init: false` makes the command pid 1 itself; `join` enters an existing namespace.
 * Rejects with TypeError/RangeError for bad arguments (nothing is started) and with a
 * SystemError-shaped error when the kernel refuses (ENOENT, EACCES, EPERM, EINVAL, ...).
 */
export async function spawnInPidNamespace(command: string, args?: readonly string[], options?: SpawnOptions): Promise<PidNamespaceChild> {
  const opts = normalizeSpawnArguments(command, args, options);
  const child = opts.signal ? await startAbortable(opts, opts.signal) : await startChild(opts);
  armKillers(child, opts);
  return child;
}

/**
 * startChild, rejecting with AbortError as soon as the signal aborts, even while the spawn waits
 * on the spawner thread. The caller never gets a process started for an aborted spawn, so it is
 * ended (SIGKILL) when it comes, and nothing of it is left.
 */
async function startAbortable(opts: NormalizedOptions, signal: AbortSignal): Promise<PidNamespaceChild> {
  const starting = startChild(opts);
  const end = (child: PidNamespaceChild) => {
    child.kill('SIGKILL');
    return child.exited;
  };
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const child = await Promise.race([starting, aborted]);
    if (!signal.aborted) return child;
    await end(child);
    throw abortError(signal);
  } catch (err) {
    if (signal.aborted) starting.then(end, () => {});
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Starts the command of validated options; timeout and signal are left to the caller. */
export async function startChild(opts: NormalizedOptions): Promise<PidNamespaceChild> {
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const spawnargs = [opts.command, ...opts.args];
  const action = `spawn ${opts.command}`;
  checkProcIsOurs(action);
  checkPidMaxSupported(opts.pidMax, action, spawnargs);
  checkStdioOpen(opts.stdio, action);
  // Entering a target's namespaces opens them first: with its mount namespace, the command is
  // looked up in its root.
  const target = opts.join && opts.joinNamespaces ? openEnterTarget(opts.join, opts.joinNamespaces, action, spawnargs) : null;
  let cgroup: CgroupPlacement | null = null;
  try {
    const root = target?.entered.rootPath;
    const resolution = root ? resolveCommandInRoot(root, opts.command, opts.envPath) : resolveCommand(opts.command, opts.envPath, opts.cwd);
    if ('errno' in resolution) throw systemError(resolution.errno, 'execve', { action, path: opts.command, spawnargs });
    cgroup = opts.cgroup ? CgroupPlacement.prepare(opts.cgroup, action) : null;
    const withTerminal = opts.foreground && terminalIsOurs(opts.stdio);
    const ctx: Context = { opts, file: resolution.file, spawnargs, action, cgroup, withTerminal };

    let child: PidNamespaceChild;
    try {
      if (target) child = await spawnDirect(ctx, target.join, target.entered);
      else if (opts.join) child = await spawnJoined(ctx);
      else if (opts.init) child = await underInit(ctx);
      else child = await spawnDirect(ctx);
    } catch (err) {
      cgroup?.release();
      await cgroup?.remove();
      throw err;
    }
    cgroup?.release();
    return child;
  } finally {
    if (target) closeEnterTarget(target.join, target.entered);
  }
}

/**
 * newNamespace 'auto': a new namespace, or none where the kernel refuses one (EPERM: no
 * CAP_SYS_ADMIN and no user namespace, or a container's seccomp profile; ENOSPC: a limit of 0).
 */
async function underInit(ctx: Context): Promise<PidNamespaceChild> {
  const { newNamespace } = ctx.opts;
  if (newNamespace !== 'auto') return spawnUnderInit(ctx, newNamespace);
  try {
    return await spawnUnderInit(ctx, true);
  } catch (err) {
    // EPERM: not permitted; ENOSPC (and EUSERS before Linux 4.9): user.max_pid_namespaces, which
    // is 0 where the administrator forbids new PID namespaces.
    const refused = err instanceof PidnsSystemError && ['EPERM', 'ENOSPC', 'EUSERS'].includes(err.code) && (err.syscall === 'clone' || err.syscall === 'clone3');
    if (!refused) throw err;
    return spawnUnderInit(ctx, false);
  }
}
