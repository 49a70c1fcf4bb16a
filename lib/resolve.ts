// PATH lookup, done here before the clone so that the child only calls execve.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type Resolution = { file: string } | { errno: number };

/** The search path when the environment has no PATH; pidns-init's is the same (test/init-command-lookup.test.ts). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const { ENOENT, ENOTDIR, EACCES } = os.constants.errno;
const PATH_MAX = 4096;

/** What execve of this path would say, as far as stat and access can tell: 0, or an errno. */
export function execErrno(file: string): number {
  try {
    // A directory, or a file without execute permission for us: execve says EACCES.
    if (!fs.statSync(file).isFile()) return EACCES;
    fs.accessSync(file, fs.constants.X_OK);
    return 0;
  } catch (err) {
    return -((err as NodeJS.ErrnoException).errno ?? -EACCES);
  }
}

/**
 * Finds the file execve should run, by the rules pidns-init follows too (src-native/init/init.c
 * `exec_command`), which are execvp's without its /bin/sh fallback: a name with a slash is used
 * as it is (relative to cwd); otherwise each PATH entry is tried in order (an empty or relative
 * entry is relative to cwd; one longer than PATH_MAX is passed over). ENOENT and ENOTDIR go on to the next entry; EACCES does too, but is
 * reported when nothing is found; any other error ends the search.
 */
export function resolveCommand(command: string, envPath: string | undefined, cwd: string | null): Resolution {
  if (command.includes('/')) return { file: command };
  const searchPath = envPath ?? DEFAULT_PATH;
  let sawRefused = false;
  const commandBytes = Buffer.byteLength(command);
  for (const dir of searchPath.split(':')) {
    // The init's buffer is the kernel's PATH_MAX: an entry too long for it is passed over there.
    if (Buffer.byteLength(dir) + 1 + commandBytes + 1 > PATH_MAX) continue;
    const base = dir === '' ? cwd ?? process.cwd() : path.resolve(cwd ?? process.cwd(), dir);
    const candidate = path.join(base, command);
    const errno = execErrno(candidate);
    if (errno === 0) return { file: candidate };
    if (errno === EACCES) sawRefused = true;
    else if (errno !== ENOENT && errno !== ENOTDIR) return { errno };
  }
  return { errno: sawRefused ? EACCES : ENOENT };
}
