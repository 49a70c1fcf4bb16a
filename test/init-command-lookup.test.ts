// How the init finds a command given by bare name, run directly as a user would: PATH is searched
// as POSIX execvp does, whichever C library (or none) the init was built with
// (src-native/init/build.sh), and its error lines read the same.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const INIT = path.resolve(__dirname, '../build/Release/pidns-init');

let dir = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-lookup-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(relative: string, text: string, mode: number): string {
  const full = path.join(dir, relative);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, text, { mode });
  fs.chmodSync(full, mode);
  return full;
}

function runInit(args: string[], env: NodeJS.ProcessEnv, cwd = dir) {
  return spawnSync(INIT, args, { env, cwd, encoding: 'utf8', timeout: 10000 });
}

describe('pidns-init looking a command up in PATH', () => {
  test('a candidate that may not be executed is passed over for the next one', () => {
    file('refused/tool', '#!/bin/sh\nexit 6\n', 0o644);
    file('runs/tool', '#!/bin/sh\nexit 7\n', 0o755);
    const run = runInit(['tool'], { PATH: `${dir}/refused:${dir}/missing:${dir}/runs` });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(7);
  });

  test('when every candidate is refused, the error is EACCES (exit 126)', () => {
    file('refused/tool', '#!/bin/sh\nexit 6\n', 0o644);
    const run = runInit(['tool'], { PATH: `${dir}/missing:${dir}/refused:${dir}/missing-too` });
    expect(run.status).toBe(126);
    expect(run.stderr).toBe('pidns-init: tool: Permission denied\n');
  });

  test('a name found nowhere is ENOENT (exit 127)', () => {
    const run = runInit(['no-such-tool'], { PATH: `${dir}/missing:/nonexistent` });
    expect(run.status).toBe(127);
    expect(run.stderr).toBe('pidns-init: no-such-tool: No such file or directory\n');
  });

  test('an empty PATH entry is the current folder', () => {
    file('here/tool', '#!/bin/sh\nexit 8\n', 0o755);
    const run = runInit(['tool'], { PATH: `/nonexistent::${dir}/missing` }, path.join(dir, 'here'));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(8);
  });

  test('without PATH, /bin and /usr/bin are searched', () => {
    const run = runInit(['sh', '-c', 'exit 5'], {});
    expect(run.stderr).toBe('');
    expect(run.status).toBe(5);
  });

  test('the arguments and the environment reach the command found', () => {
    file('bin/show', '#!/bin/sh\nprintf "%s|" "$0" "$@" "$MARK"\n', 0o755);
    const run = runInit(['show', 'a b', '', 'c'], { PATH: `${dir}/bin`, MARK: 'seen' });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${dir}/bin/show|a b||c|seen|`);
  });
});
