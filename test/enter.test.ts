// Entering a running process's namespaces (options.joinNamespaces, pidns exec --all), as nsenter
// -a -r -w does: every fact is read from the kernel (the /proc/PID/ns links, root and working
// directory of the command against the target's).
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { parseCommandLine } from '../lib/cli-args';
import { lookupInRoot, resolveCommandInRoot } from '../lib/resolve-in-root';
import { childrenOfSelf, collect, eventually, exists } from './kernel';
import { describeAsRoot } from './root';
import { buildFixture, removeBuiltFixture, runFixture } from './subprocess';

const KINDS = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'] as const;

function links(pid: number | 'self'): Record<string, string> {
  return Object.fromEntries(KINDS.map((kind) => [kind, fs.readlinkSync(`/proc/${pid}/ns/${kind}`)]));
}

/** st_dev and st_ino of a directory, as "dev:ino". */
function identity(file: string): string {
  const stats = fs.statSync(file);
  return `${stats.dev}:${stats.ino}`;
}

interface Target {
  pid: number;
  stop(): Promise<void>;
}

/**
 * A process in namespaces of its own: `unshare ARGS --fork --kill-child sh -c SCRIPT`, where SCRIPT
 * ends by exec'ing sleep; the target is that sleep (unshare's child). asUser: a command line
 * prefix (setpriv) to start it as another user.
 */
async function startTarget(unshareArgs: string[], script: string, asUser: string[] = []): Promise<Target> {
  const argv = [...asUser, 'unshare', ...unshareArgs, '--fork', '--kill-child', 'sh', '-c', script];
  const unshare: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => unshare.once('exit', resolve));
  let pid = 0;
  const started = await eventually(() => {
    try {
      pid = Number(fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(/\s+/)[0] || 0);
      return pid > 0 && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  });
  const stop = async () => {
    unshare.kill('SIGKILL');
    await exited;
  };
  if (!started) {
    await stop();
    throw new Error(`the target did not start: ${argv.join(' ')}`);
  }
  return { pid, stop };
}

/** The links of a command that runs until killed, read while it runs. */
async function linksOf(child: PidNamespaceChild): Promise<Record<string, string>> {
  try {
    return links(child.pid);
  } finally {
    child.kill('SIGKILL');
    await child.exited;
  }
}

/** A program and the shared libraries ldd lists for it, copied into tree at the same paths. */
function copyWithLibraries(program: string, tree: string): void {
  const files = [program];
  const ldd = spawnSync('ldd', [program], { encoding: 'utf8' });
  for (const match of ldd.stdout.matchAll(/(\/\S+)/g)) files.push(match[1]);
  for (const file of files) {
    const into = path.join(tree, file);
    fs.mkdirSync(path.dirname(into), { recursive: true });
    fs.copyFileSync(fs.realpathSync(file), into);
    fs.chmodSync(into, 0o755);
  }
}

describe('joinNamespaces: bad input is refused before anything starts', () => {
  test.each([
    [{ join: 1, joinNamespaces: ['net', 'bogus'] }, 'ERR_INVALID_ARG_VALUE', /joinNamespaces\[1\]' must be one of 'user'/],
    [{ join: 1, joinNamespaces: 'everything' }, 'ERR_INVALID_ARG_TYPE', /joinNamespaces/],
    [{ join: 1, joinNamespaces: [] }, 'ERR_INVALID_ARG_VALUE', /at least one namespace/],
    [{ join: 1, joinNamespaces: [7] }, 'ERR_INVALID_ARG_VALUE', /joinNamespaces\[0\]/],
    [{ joinNamespaces: 'all' }, 'ERR_INVALID_ARG_VALUE', /needs options.join/],
    [{ join: '/proc/1/ns/pid', joinNamespaces: 'all' }, 'ERR_INVALID_ARG_VALUE', /cannot be a namespace file path/],
    [{ newNamespace: false, joinNamespaces: 'all' }, 'ERR_INVALID_ARG_VALUE', /newNamespace false/],
    [{ newNamespace: 'auto', joinNamespaces: ['net'] }, 'ERR_INVALID_ARG_VALUE', /newNamespace 'auto'/],
  ])('%j', async (options, code, message) => {
    const before = childrenOfSelf().length;
    const err = await spawnInPidNamespace('true', [], options as object).catch((e: NodeJS.ErrnoException) => e);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
    expect(childrenOfSelf().length).toBe(before);
  });

  test('pidns exec: --all and the namespace flags, long and short, as nsenter spells them', () => {
    expect(parseCommandLine(['exec', '--target', '5', '--all', '--', 'sh'])).toMatchObject({ targetPid: 5, joinNamespaces: 'all', argv: ['sh'] });
    expect(parseCommandLine(['exec', '-t', '5', '-a', 'sh'])).toMatchObject({ targetPid: 5, joinNamespaces: 'all' });
    expect(parseCommandLine(['exec', '-t', '5', '-n', '-u', '--mount', 'sh'])).toMatchObject({ joinNamespaces: ['mnt', 'net', 'uts'] });
    expect(parseCommandLine(['exec', '-t', '5', '-U', '-i', '-C', '-T', '-p', 'sh'])).toMatchObject({ joinNamespaces: ['user', 'ipc', 'cgroup', 'time', 'pid'] });
    expect(parseCommandLine(['exec', '--target', '5', 'sh'])).toMatchObject({ joinNamespaces: null });
  });
});

describe("the command's lookup in the target's root", () => {
  let root: string;
  beforeAll(() => {
    // bin -> /usr/bin and up -> ../../.. lead elsewhere when read in our root; loop-a and loop-b
    // point at each other; file is no directory.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-lookup-'));
    fs.mkdirSync(path.join(root, 'usr', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr', 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'usr', 'bin', 'data'), '', { mode: 0o644 });
    fs.symlinkSync('/usr/bin', path.join(root, 'bin'));
    fs.symlinkSync('../../..', path.join(root, 'up'));
    fs.symlinkSync('loop-b', path.join(root, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(root, 'loop-b'));
    fs.writeFileSync(path.join(root, 'file'), '');
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each([
    ['/bin/tool', { path: '/usr/bin/tool' }],
    ['/up/up/bin/../bin/tool', { path: '/usr/bin/tool' }],
    ['/../../usr/bin', { path: '/usr/bin' }],
    ['/loop-a/tool', { errno: os.constants.errno.ELOOP }],
    ['/file/tool', { errno: os.constants.errno.ENOTDIR }],
    ['/nothing/tool', { errno: os.constants.errno.ENOENT }],
  ])('%s', (file, expected) => {
    expect(lookupInRoot(root, file)).toEqual(expected);
  });

  test('PATH: absolute entries only, the first executable file wins, EACCES only when nothing is found', () => {
    expect(resolveCommandInRoot(root, 'tool', '/nothing:/up/bin:/usr/bin')).toEqual({ file: '/up/bin/tool' });
    expect(resolveCommandInRoot(root, 'tool', 'usr/bin:.:')).toEqual({ errno: os.constants.errno.ENOENT });
    expect(resolveCommandInRoot(root, 'data', '/bin')).toEqual({ errno: os.constants.errno.EACCES });
    expect(resolveCommandInRoot(root, './tool', '/bin')).toEqual({ file: './tool' });
  });
});

describeAsRoot('joinNamespaces: entering a running process as nsenter -a does', () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget(['--mount', '--uts', '--ipc', '--net', '--pid', '--cgroup', '--mount-proc'], 'hostname enter-test; cd /tmp; exec sleep 60');
  });
  afterAll(() => target.stop());

  test("'all': every namespace of the command is the target's, Node's own are unchanged", async () => {
    const ours = links('self');
    const child = await spawnInPidNamespace('sleep', ['30'], { join: target.pid, joinNamespaces: 'all', stdio: 'ignore' });
    expect(child.namespaceId).toBe(fs.statSync(`/proc/${target.pid}/ns/pid`).ino);
    expect(await linksOf(child)).toEqual(links(target.pid));
    expect(links('self')).toEqual(ours);
    // The ones the target shares with us stay so: it is in our user and time namespaces.
    expect(links(target.pid).user).toBe(ours.user);
    expect(links(target.pid).time).toBe(ours.time);
  });

  test('a list enters those namespaces only (and always the PID namespace)', async () => {
    const ours = links('self');
    const theirs = links(target.pid);
    const child = await spawnInPidNamespace('sleep', ['30'], { join: target.pid, joinNamespaces: ['net', 'uts'], stdio: 'ignore' });
    expect(await linksOf(child)).toEqual({ ...ours, net: theirs.net, uts: theirs.uts, pid: theirs.pid });
  });

  test("with 'mnt': the target's root and working directory, and what it sees (its hostname, its /proc)", async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'hostname; pwd; cat /proc/1/comm'], { join: target.pid, joinNamespaces: 'all' });
    expect(await collect(child.stdout)).toBe('enter-test\n/tmp\nsleep\n');
    await expect(child.exited).resolves.toMatchObject({ code: 0 });
  });

  test('a PidNamespace as the target', async () => {
    const ns = PidNamespace.fromPid(target.pid);
    const child = await ns.spawn('sleep', ['30'], { joinNamespaces: ['mnt', 'net'], stdio: 'ignore' });
    const theirs = links(target.pid);
    expect(await linksOf(child)).toMatchObject({ mnt: theirs.mnt, net: theirs.net, pid: theirs.pid });
  });

  test('the command exec: pidns exec --target PID --all', async () => {
    const cli = spawnSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli.js'), 'exec', '--target', String(target.pid), '--all', '--', 'sh', '-c', 'hostname; readlink /proc/self/ns/net'], { encoding: 'utf8' });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toBe(`enter-test\n${links(target.pid).net}\n`);
    expect(cli.status).toBe(0);
  });
});

describeAsRoot('joinNamespaces: a target with a root of its own', () => {
  let target: Target;
  let stage: string;
  beforeAll(async () => {
    // Its root is a tmpfs mounted in its own mount namespace only, holding sh, sleep, and a
    // program that exists nowhere else (a script, under /only), reached through
    // /links/tool -> /only/tool and /escape -> ../../../only, links that resolved in our root
    // would lead nowhere. The staging folder is removed once the target runs.
    stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-enter-root-'));
    const tree = path.join(stage, 'tree');
    const root = path.join(stage, 'root');
    fs.mkdirSync(root);
    for (const program of ['/bin/sh', '/bin/sleep']) copyWithLibraries(program, tree);
    fs.mkdirSync(path.join(tree, 'only'));
    // A script: its interpreter, too, is found in the target's root (and it runs the same on any build).
    fs.writeFileSync(path.join(tree, 'only', 'tool'), '#!/bin/sh\necho "only in the target: $0 $1"\n');
    fs.chmodSync(path.join(tree, 'only', 'tool'), 0o755);
    fs.mkdirSync(path.join(tree, 'links'));
    fs.symlinkSync('/only/tool', path.join(tree, 'links', 'tool'));
    fs.symlinkSync('../../../only', path.join(tree, 'escape'));
    fs.mkdirSync(path.join(tree, 'work'));
    const script = `mount -t tmpfs tmpfs ${root} && cp -a ${tree}/. ${root} && exec chroot ${root} /bin/sh -c 'cd /work && exec /bin/sleep 60'`;
    target = await startTarget(['--mount', '--pid', '--mount-proc'], script);
    fs.rmSync(stage, { recursive: true, force: true });
  });
  afterAll(async () => {
    await target.stop();
    fs.rmSync(stage, { recursive: true, force: true });
  });

  test("the command's root and working directory are the target's (st_dev and st_ino)", async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { join: target.pid, joinNamespaces: ['mnt'], env: { PATH: '/bin' }, stdio: 'ignore' });
    try {
      expect(identity(`/proc/${child.pid}/root/.`)).toBe(identity(`/proc/${target.pid}/root/.`));
      expect(identity(`/proc/${child.pid}/cwd/.`)).toBe(identity(`/proc/${target.pid}/cwd/.`));
      expect(identity(`/proc/${child.pid}/root/.`)).not.toBe(identity('/'));
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test.each([['/only'], ['/links'], ['/escape'], ['/nowhere:/escape']])('a program only in the target is found through PATH=%s', async (searchPath) => {
    expect(fs.existsSync('/only/tool')).toBe(false);
    const child = await spawnInPidNamespace('tool', ['--version'], { join: target.pid, joinNamespaces: 'all', env: { PATH: searchPath } });
    expect(await collect(child.stdout)).toMatch(/^only in the target: \S*tool --version\n$/);
    await expect(child.exited).resolves.toMatchObject({ code: 0 });
  });

  test('without the mount namespace the command is looked up in our root: ENOENT, nothing starts', async () => {
    const before = childrenOfSelf().length;
    await expect(spawnInPidNamespace('tool', [], { join: target.pid, joinNamespaces: ['net'], env: { PATH: '/only' } })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'execve' });
    await expect(spawnInPidNamespace('missing', [], { join: target.pid, joinNamespaces: 'all', env: { PATH: '/only:/bin' } })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'execve' });
    expect(childrenOfSelf().length).toBe(before);
  });

  test('a cwd option is a path in the target tree', async () => {
    const child = await spawnInPidNamespace('/bin/sh', ['-c', 'pwd; cd .. && echo *'], { join: target.pid, joinNamespaces: ['mnt'], cwd: '/only' });
    const [cwd, listing] = (await collect(child.stdout)).split('\n');
    expect(cwd).toBe('/only');
    expect(listing.split(' ')).toEqual(expect.arrayContaining(['bin', 'escape', 'links', 'only', 'work']));
    await expect(child.exited).resolves.toMatchObject({ code: 0 });
  });
});

describeAsRoot('joinNamespaces: a target chrooted into a plain directory, with mountProc', () => {
  test("the command gets a /proc of the target's PID namespace in a mount namespace of its own; neither the target's mounts nor ours change", async () => {
    // A plain chroot: the target's root is a directory, not a mount point, so the propagation of
    // the mount namespace made for /proc must be set at the top of the tree, before the chroot.
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-enter-chroot-'));
    for (const program of ['/bin/sh', '/bin/sleep', '/bin/cat']) copyWithLibraries(program, tree);
    fs.mkdirSync(path.join(tree, 'proc'));
    const target = await startTarget(['--mount', '--pid', '--mount-proc'], `exec chroot ${tree} /bin/sleep 60`);
    try {
      const targetMounts = fs.readFileSync(`/proc/${target.pid}/mountinfo`, 'utf8');
      const ourMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
      const child = await spawnInPidNamespace('/bin/sh', ['-c', 'cat /proc/1/comm; read own rest </proc/self/stat; echo $own'], { join: target.pid, joinNamespaces: ['mnt'], mountProc: true, env: { PATH: '/bin' } });
      const [pidOne, ownPid] = (await collect(child.stdout)).trim().split('\n');
      await expect(child.exited).resolves.toMatchObject({ code: 0 });
      expect(pidOne).toBe('sleep');
      expect(Number(ownPid)).toBe(child.nsPid);
      expect(fs.readFileSync(`/proc/${target.pid}/mountinfo`, 'utf8')).toBe(targetMounts);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).toBe(ourMounts);
    } finally {
      await target.stop();
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });
});

describeAsRoot('joinNamespaces: user and time namespaces', () => {
  test('as root, a target in a user namespace of its own: the command is root in it', async () => {
    const target = await startTarget(['--user', '--map-root-user', '--mount', '--pid', '--mount-proc'], 'exec sleep 60');
    try {
      const child = await spawnInPidNamespace('sh', ['-c', 'id -u; id -g; exec sleep 30'], { join: target.pid, joinNamespaces: 'all' });
      const id = collect(child.stdout);
      await eventually(() => fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep');
      expect(await linksOf(child)).toEqual(links(target.pid));
      expect(await id).toBe('0\n0\n');
    } finally {
      await target.stop();
    }
  });

  test('as nobody, a target of nobody\'s in a user namespace: the user namespace is entered first, then the others', async () => {
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--'];
    const target = await startTarget(['--user', '--map-root-user', '--mount', '--uts', '--net', '--pid', '--mount-proc'], 'exec sleep 60', nobody);
    try {
      const script = 'id -u; for n in user mnt uts net pid; do readlink /proc/self/ns/$n; done';
      const run = runFixture('run-report.js', [JSON.stringify(['sh', ['-c', script], { join: target.pid, joinNamespaces: 'all' }])], { asNobody: true });
      expect(run.stderr).toBe('');
      const report = JSON.parse(run.stdout);
      const theirs = links(target.pid);
      expect(report.stdout).toBe(['0', theirs.user, theirs.mnt, theirs.uts, theirs.net, theirs.pid, ''].join('\n'));
      expect(report.exited).toMatchObject({ code: 0 });
    } finally {
      await target.stop();
    }
  });

  test("as nobody, a target of nobody's without its user namespace: EPERM for the first namespace, and the hint names 'user'", async () => {
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--'];
    const target = await startTarget(['--user', '--map-root-user', '--net', '--pid'], 'exec sleep 60', nobody);
    try {
      const run = runFixture('run-report.js', [JSON.stringify(['true', [], { join: target.pid, joinNamespaces: ['net'] }])], { asNobody: true });
      const { error } = JSON.parse(run.stdout);
      expect(error).toMatchObject({ code: 'EPERM', syscall: 'setns' });
      expect(error.message).toMatch(/entering the target's net namespace needs CAP_SYS_ADMIN.*name 'user' in joinNamespaces/);
    } finally {
      await target.stop();
    }
  });

  test("as nobody, root's target: its namespace files cannot be opened (EACCES), and the hint says why", async () => {
    const target = await startTarget(['--net', '--pid'], 'exec sleep 60');
    try {
      const run = runFixture('run-report.js', [JSON.stringify(['true', [], { join: target.pid, joinNamespaces: 'all' }])], { asNobody: true });
      const { error } = JSON.parse(run.stdout);
      expect(error).toMatchObject({ code: 'EACCES', syscall: 'open' });
      expect(error.message).toMatch(/needs root/);
    } finally {
      await target.stop();
    }
  });

  test('a time namespace of its own: ERR_TIME_NAMESPACE_UNSUPPORTED before anything starts; the others can still be entered', async () => {
    const target = await startTarget(['--time', '--net', '--pid'], 'exec sleep 60');
    try {
      const before = childrenOfSelf().length;
      for (const joinNamespaces of ['all', ['time']] as const) {
        const err = await spawnInPidNamespace('true', [], { join: target.pid, joinNamespaces }).catch((e: NodeJS.ErrnoException) => e);
        expect(err).toMatchObject({ code: 'ERR_TIME_NAMESPACE_UNSUPPORTED', syscall: 'setns', path: `/proc/${target.pid}/ns/time` });
        expect((err as Error).message).toMatch(/without 'time'/);
      }
      expect(childrenOfSelf().length).toBe(before);
      const child = await spawnInPidNamespace('sleep', ['30'], { join: target.pid, joinNamespaces: ['net'], stdio: 'ignore' });
      const got = await linksOf(child);
      expect(got.net).toBe(links(target.pid).net);
      expect(got.time).toBe(links('self').time);
      const cli = spawnSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli.js'), 'exec', '--target', String(target.pid), '--all', '--', 'true'], { encoding: 'utf8' });
      expect(cli.stderr).toMatch(/another time namespace.*instead of --all or --time/);
      expect(cli.status).not.toBe(0);
    } finally {
      await target.stop();
    }
  });

  // Why 'time' is refused: the kernel's rule, read from a probe that clones as pidns does.
  test('the kernel: a process sharing its memory cannot enter a time namespace (EUSERS), a forked one can; a user namespace takes either', async () => {
    const probe = buildFixture('setns-probe');
    const target = await startTarget(['--time', '--user', '--map-root-user', '--pid'], 'exec sleep 60');
    try {
      const run = (kind: string) => JSON.parse(spawnSync(probe, [`/proc/${target.pid}/ns/${kind}`, kind], { encoding: 'utf8' }).stdout);
      expect(run('time')).toEqual({ cloneVm: 87 /* EUSERS */, fork: 0 });
      expect(run('user')).toEqual({ cloneVm: 0, fork: 0 });
    } finally {
      await target.stop();
      removeBuiltFixture(probe);
    }
  });

  test('a target that has exited: ESRCH', async () => {
    const target = await startTarget(['--net', '--pid'], 'exec sleep 60');
    const { pid } = target;
    await target.stop();
    await eventually(() => !exists(pid));
    await expect(spawnInPidNamespace('true', [], { join: pid, joinNamespaces: 'all' })).rejects.toMatchObject({ code: 'ESRCH' });
  });
});

describeAsRoot('joinNamespaces where setns is refused (a container profile, through seccomp-exec)', () => {
  let loader: string;
  let target: Target;
  beforeAll(async () => {
    loader = buildFixture('seccomp-exec');
    target = await startTarget(['--mount', '--uts', '--net', '--pid', '--mount-proc'], 'exec sleep 60');
  });
  afterAll(async () => {
    await target.stop();
    removeBuiltFixture(loader);
  });

  test.each([
    ['EPERM', '--eperm', /seccomp profile that allows setns/],
    ['ENOSYS', '--enosys', /does not offer setns/],
  ])('%s: the spawn is refused naming setns and the namespace, and nothing is left', (code, flag, hint) => {
    const script = [
      "const { spawnInPidNamespace } = require(process.argv[1]);",
      '(async () => {',
      `  const err = await spawnInPidNamespace('true', [], { join: ${target.pid}, joinNamespaces: 'all' }).catch((e) => e);`,
      "  const children = require('fs').readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim();",
      '  console.log(JSON.stringify({ code: err.code, syscall: err.syscall, path: err.path, message: err.message, children }));',
      '})();',
    ].join('\n');
    const run = spawnSync(loader, [flag, 'setns', '--', process.execPath, '-e', script, path.join(__dirname, '..', 'dist')], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ code, syscall: 'setns', children: '' });
    expect(report.path).toMatch(new RegExp(`^/proc/${target.pid}/ns/(uts|net|pid|mnt)$`));
    expect(report.message).toMatch(hint);
  });
});
