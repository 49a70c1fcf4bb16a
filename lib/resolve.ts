// PATH lookup, done here before the clone so that the child only calls execve.
import * as fs from 'fs';
import * as path from 'path';

export type Resolution = { file: string } | { errno: number };

const ENOENT = 2;
const EACCES = 13;

function isExecutableFile(file: string): 'yes' | 'not-executable' | 'missing' {
  try {
    if (!fs.statSync(file).isFile()) return 'not-executable';
  } catch {
    return 'missing';
  }
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return 'yes';
  } catch {
    return 'not-executable';
  }
}

/**
 * Finds the file execve should run, the way execvp does: a name with a slash is used as it is
 * (relative to cwd); otherwise each PATH entry is tried in order. A match that exists but cannot
 * be executed is remembered and reported as EACCES when nothing better is found.
 */
export function resolveCommand(command: string, envPath: string | undefined, cwd: string | null): Resolution {
  if (command.includes('/')) return { file: command };
  const searchPath = envPath ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  let sawUnexecutable = false;
  for (const dir of searchPath.split(':')) {
    const base = dir === '' ? cwd ?? process.cwd() : path.resolve(cwd ?? process.cwd(), dir);
    const candidate = path.join(base, command);
    const found = isExecutableFile(candidate);
    if (found === 'yes') return { file: candidate };
    if (found === 'not-executable') sawUnexecutable = true;
  }
  return { errno: sawUnexecutable ? EACCES : ENOENT };
}
