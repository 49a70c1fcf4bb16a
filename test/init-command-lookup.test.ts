// How the init finds a command given by name, run directly as a user would (pidns-init as a
// container's entrypoint; the library itself passes the init a path it resolved, lib/resolve.ts).
// Every build of src-native/init/build.sh uses the init's own lookup, never the C library's execvp,
// so each case runs against every build that can be made here, each built into a scratch folder:
// a name with a slash is exec'd as it is; otherwise PATH is searched (unset: the same default as
// lib/resolve.ts; an empty entry is the current folder), ENOENT and ENOTDIR pass over an entry,
// EACCES too but is reported if nothing is found, any other error ends the search; a file without
// a #! line fails with ENOEXEC (exit 126) and is never run through /bin/sh.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isRoot } from './root';
import { DEFAULT_PATH, resolveCommand } from '../lib/resolve';

const REPO = path.resolve(__dirname, '..');
const BUILD_SCRIPT = path.join(REPO, 'src-native/init/build.sh');

const hasMusl = hasCommand('musl-gcc');

// The builds build.sh can make on this machine, each tested: nolibc exists for x86-64 and arm64
// only (freestanding/arch.h), musl where musl-gcc is installed (Debian: musl-tools; CI installs it).
const BUILDS: string[] = [
  ...(['x64', 'arm64'].includes(process.arch) ? ['nolibc'] : []),
  ...(hasMusl ? ['musl'] : []),
  'system',
  'system-dynamic',
];

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

test('every build this machine can make is tested; under CI=true, musl\'s too', () => {
  expect(BUILDS).toEqual(expect.arrayContaining(['system', 'system-dynamic']));
  expect(BUILDS.includes('musl')).toBe(hasMusl);
  if (process.env.CI === 'true') expect({ muslGcc: hasMusl }).toEqual({ muslGcc: true });
});

function describeBuild(build: string, body: (init: () => string) => void): void {
  describe(`pidns-init (${build} build) looking a command up`, () => {
    let scratch = '';
    let init = '';
    beforeAll(() => {
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), `pidns-lookup-${build}-`));
      fs.chmodSync(scratch, 0o755);
      init = path.join(scratch, 'pidns-init');
      const made = spawnSync('sh', [BUILD_SCRIPT, init], { env: { ...process.env, PIDNS_INIT_BUILD: build }, encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`the ${build} build failed:\n${made.stderr}`);
      expect(made.stdout).toMatch(new RegExp(`^pidns-init: ${build} build`));
    });
    afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
    body(() => init);
  });
}

let dir = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-lookup-'));
  // Reachable by nobody, for the case that searches as nobody.
  fs.chmodSync(dir, 0o755);
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(relative: string, text: string, mode: number): string {
  const full = path.join(dir, relative);
  fs.mkdirSync(path.dirname(full), { recursive: true, mode: 0o755 });
  fs.writeFileSync(full, text, { mode });
  fs.chmodSync(full, mode);
  return full;
}

// Without a #! line; `echo` is the shell's own, so a /bin/sh fallback would leave the mark even
// with a PATH that has no touch in it.
function scriptWithoutInterpreter(relative: string): string {
  return file(relative, `echo ran > ${dir}/ran\nexit 9\n`, 0o755);
}

test('the default PATH is the one lib/resolve.ts searches', () => {
  const init = fs.readFileSync(path.join(REPO, 'src-native/init/init.c'), 'utf8');
  const initDefault = /default_path\[\] = "([^"]*)"/.exec(init)?.[1];
  expect(initDefault).toBeDefined();
  expect(initDefault).toBe(DEFAULT_PATH);
});

// The library resolves the command itself before the clone (raw mode and joins run it with
// execve alone): it must find what the init finds, and fail as the init fails.
describe('lib/resolve.ts finds what the init finds', () => {
  const { EACCES, ENOENT } = os.constants.errno;
  test('a refused candidate is passed over; ENOTDIR and missing entries too', () => {
    file('refused/tool', '#!/bin/sh\nexit 6\n', 0o644);
    file('plain', 'not a folder\n', 0o644);
    file('runs/tool', '#!/bin/sh\nexit 7\n', 0o755);
    expect(resolveCommand('tool', `${dir}/refused:${dir}/plain:${dir}/missing:${dir}/runs`, dir)).toEqual({ file: `${dir}/runs/tool` });
    // An entry longer than PATH_MAX is passed over, as the init's buffer passes it over.
    expect(resolveCommand('tool', `/${'a/'.repeat(2100)}:${dir}/runs`, dir)).toEqual({ file: `${dir}/runs/tool` });
  });
  test('only refused candidates: EACCES; none: ENOENT', () => {
    file('refused/tool', '#!/bin/sh\nexit 6\n', 0o644);
    expect(resolveCommand('tool', `${dir}/missing:${dir}/refused`, dir)).toEqual({ errno: EACCES });
    expect(resolveCommand('tool', `${dir}/missing:/nonexistent`, dir)).toEqual({ errno: ENOENT });
  });
  test('a folder in place of the file is refused, as execve refuses it', () => {
    fs.mkdirSync(`${dir}/bin/tool`, { recursive: true });
    expect(resolveCommand('tool', `${dir}/bin`, dir)).toEqual({ errno: EACCES });
  });
  test('empty and relative entries are relative to cwd; no PATH means the default', () => {
    file('here/tool', '#!/bin/sh\nexit 8\n', 0o755);
    expect(resolveCommand('tool', `/nonexistent::${dir}/missing`, `${dir}/here`)).toEqual({ file: `${dir}/here/tool` });
    expect(resolveCommand('tool', '/nonexistent:here', dir)).toEqual({ file: `${dir}/here/tool` });
    expect(resolveCommand('sh', undefined, dir)).toEqual({ file: expect.stringMatching(/^\/(usr\/)?(s)?bin\/sh$/) });
  });
});

for (const build of BUILDS) {
  describeBuild(build, (init) => {
    function runInit(args: string[], env: NodeJS.ProcessEnv, cwd = dir) {
      return spawnSync(init(), args, { env, cwd, encoding: 'utf8', timeout: 10000 });
    }

    test('a script with a #! line runs through its interpreter', () => {
      file('bin/tool', '#!/bin/sh\nexit 7\n', 0o755);
      const run = runInit(['tool'], { PATH: `${dir}/bin` });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(7);
    });

    test('a file without a #! line is ENOEXEC (exit 126), not run by /bin/sh', () => {
      scriptWithoutInterpreter('bin/tool');
      const found = runInit(['tool'], { PATH: `${dir}/bin` });
      expect(found.stderr).toBe('pidns-init: tool: Exec format error\n');
      expect(found.status).toBe(126);
      const named = runInit([`${dir}/bin/tool`], { PATH: '/usr/bin:/bin' });
      expect(named.stderr).toBe(`pidns-init: ${dir}/bin/tool: Exec format error\n`);
      expect(named.status).toBe(126);
      expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    });

    test('an error other than ENOENT, ENOTDIR and EACCES ends the search', () => {
      scriptWithoutInterpreter('first/tool');
      file('second/tool', '#!/bin/sh\nexit 7\n', 0o755);
      const run = runInit(['tool'], { PATH: `${dir}/first:${dir}/second` });
      expect(run.stderr).toBe('pidns-init: tool: Exec format error\n');
      expect(run.status).toBe(126);
    });

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

    test('a PATH folder that cannot be searched is passed over, and is EACCES if nothing else is found', () => {
      // Root searches any folder: the command's process then searches as nobody.
      const as = isRoot ? ['--uid', '65534', '--gid', '65534'] : [];
      file('locked/tool', '#!/bin/sh\nexit 6\n', 0o755);
      file('runs/tool', '#!/bin/sh\nexit 7\n', 0o755);
      fs.chmodSync(`${dir}/locked`, 0o000);
      const passed = runInit([...as, 'tool'], { PATH: `${dir}/locked:${dir}/runs` });
      expect(passed.stderr).toBe('');
      expect(passed.status).toBe(7);
      const alone = runInit([...as, 'tool'], { PATH: `${dir}/locked:${dir}/missing` });
      expect(alone.stderr).toBe('pidns-init: tool: Permission denied\n');
      expect(alone.status).toBe(126);
    });

    test('a PATH entry that is a file (ENOTDIR) is passed over', () => {
      file('plain', 'not a folder\n', 0o644);
      file('runs/tool', '#!/bin/sh\nexit 7\n', 0o755);
      const run = runInit(['tool'], { PATH: `${dir}/plain:${dir}/runs` });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(7);
    });

    test('a name found nowhere is ENOENT (exit 127)', () => {
      const run = runInit(['no-such-tool'], { PATH: `${dir}/missing:/nonexistent` });
      expect(run.status).toBe(127);
      expect(run.stderr).toBe('pidns-init: no-such-tool: No such file or directory\n');
    });

    test.each([
      ['between two', (missing: string) => `/nonexistent::${missing}`],
      ['first', (missing: string) => `:${missing}`],
      ['last', (missing: string) => `${missing}:`],
      ['alone (PATH set and empty)', () => ''],
    ])('an empty PATH entry, %s, is the current folder', (_where, makePath) => {
      file('here/tool', '#!/bin/sh\nexit 8\n', 0o755);
      const run = runInit(['tool'], { PATH: makePath(`${dir}/missing`) }, path.join(dir, 'here'));
      expect(run.stderr).toBe('');
      expect(run.status).toBe(8);
    });

    test('a relative PATH entry is relative to the current folder', () => {
      file('bin/tool', '#!/bin/sh\nexit 8\n', 0o755);
      const run = runInit(['tool'], { PATH: '/nonexistent:bin' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(8);
    });

    test('without PATH, the default is searched', () => {
      const run = runInit(['sh', '-c', 'exit 5'], {});
      expect(run.stderr).toBe('');
      expect(run.status).toBe(5);
    });

    test('a name with a slash is used as it is, relative to the current folder, without PATH', () => {
      file('sub/tool', '#!/bin/sh\nexit 3\n', 0o755);
      file('bin/sub/other', '#!/bin/sh\nexit 4\n', 0o755);
      const relative = runInit(['sub/tool'], { PATH: `${dir}/bin` });
      expect(relative.stderr).toBe('');
      expect(relative.status).toBe(3);
      const notSearched = runInit(['sub/other'], { PATH: `${dir}/bin` });
      expect(notSearched.stderr).toBe('pidns-init: sub/other: No such file or directory\n');
      expect(notSearched.status).toBe(127);
    });

    test('the arguments and the environment reach the command found', () => {
      file('bin/show', '#!/bin/sh\nprintf "%s|" "$0" "$@" "$MARK"\n', 0o755);
      const run = runInit(['show', 'a b', '', 'c'], { PATH: `${dir}/bin`, MARK: 'seen' });
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(`${dir}/bin/show|a b||c|seen|`);
    });
  });
}
