// PATH lookup in another process's root directory (options.joinNamespaces with 'mnt'), where the
// command is exec'd after the child has changed to that root: a program there may exist nowhere
// in ours, and one of ours may be missing there.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_PATH, execErrno, type Resolution } from './resolve';

const { ENOENT, ENOTDIR, EACCES, ELOOP } = os.constants.errno;
/** The kernel's limit on symbolic links followed in one lookup. */
const MAX_SYMLINKS = 40;
const PATH_MAX = 4096;

/**
 * Where an absolute path of the target's tree leads, as the kernel resolves it inside that root
 * (openat2's RESOLVE_IN_ROOT): every symbolic link is followed by hand, an absolute one from the
 * target's root and `..` never above it, so that a link in the target (/bin -> /usr/bin, or one
 * pointing outside) is read as the target sees it, never through our own root. Returns the path in
 * the target's tree, or an errno. The lookup only chooses the file: the execve itself happens
 * after the chroot, where the kernel resolves the path again, so nothing here can lead the command
 * outside the target's root.
 */
export function lookupInRoot(root: string, file: string): { path: string } | { errno: number } {
  const pending = file.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const ours = path.join(root, ...resolved, part);
    let stats: fs.Stats;
    try {
      stats = fs.lstatSync(ours);
    } catch (err) {
      return { errno: -((err as NodeJS.ErrnoException).errno ?? -ENOENT) };
    }
    if (stats.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return { errno: ELOOP };
      const target = fs.readlinkSync(ours);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    if (pending.length > 0 && !stats.isDirectory()) return { errno: ENOTDIR };
    resolved.push(part);
  }
  return { path: `/${resolved.join('/')}` };
}

/**
 * resolveCommand() (resolve.ts) in the target's root: the same rules, except that a relative
 * PATH entry is passed over (it is relative to the working directory the command will have, in
 * the target's tree, which is not known here). A name with a slash is left to the kernel.
 */
export function resolveCommandInRoot(root: string, command: string, envPath: string | undefined): Resolution {
  if (command.includes('/')) return { file: command };
  let sawRefused = false;
  const commandBytes = Buffer.byteLength(command);
  for (const dir of (envPath ?? DEFAULT_PATH).split(':')) {
    if (!dir.startsWith('/') || Buffer.byteLength(dir) + 1 + commandBytes + 1 > PATH_MAX) continue;
    const candidate = path.posix.join(dir, command);
    const found = lookupInRoot(root, candidate);
    const errno = 'errno' in found ? found.errno : execErrno(path.join(root, found.path));
    if (errno === 0) return { file: candidate };
    if (errno === EACCES) sawRefused = true;
    else if (errno !== ENOENT && errno !== ENOTDIR) return { errno };
  }
  return { errno: sawRefused ? EACCES : ENOENT };
}
