// The clone window under extreme input: what the process that execs keeps for itself (the error
// pipe, the user-namespace pipes, its /proc status file) never collides with the descriptors it
// installs; the addon refuses malformed requests on its own; dropped groups stay dropped; a
// signal list cannot corrupt the forwarder. Each assertion reads what the kernel says.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnInPidNamespace } from '../lib';
import { native } from '../lib/native';
import { readAll } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

/** onDone of a request that must be refused before it is queued: called, it fails the run. */
const notCalled = () => {
  throw new Error('a malformed request was spawned');
};

describeAsRoot('descriptor maps longer than the lowest free numbers', () => {
  test('a spawn with 10 to 1024 stdio entries reports its own failure, and its command sees exactly those descriptors', () => {
    const run = spawnSync(process.execPath, [fixture('stdio-collision.js')], { encoding: 'utf8', timeout: 60000 });
    expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const results = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(results).toHaveLength(32);
    for (const result of results) {
      if (result.error !== undefined) {
        expect(result).toEqual({ mode: result.mode, length: result.length, error: 'ENOENT', syscall: 'chdir' });
      } else {
        // ls itself opens one descriptor for the listing.
        expect(result).toEqual({ mode: result.mode, length: result.length, code: 0, signal: null, listed: result.length + 1 });
      }
    }
    expect(results.filter((r) => r.error !== undefined)).toHaveLength(16);
  });
});

/** The addon's errors come from Node's realm, not the test's: compare by name. */
function expectTypeError(call: () => unknown): void {
  let thrown: unknown;
  try {
    call();
  } catch (err) {
    thrown = err;
  }
  expect((thrown as Error | undefined)?.name).toBe('TypeError');
}

describe('the addon refuses what the library would never send', () => {
  const request = () => ({
    file: '/bin/true', argv: ['true'], envp: [], cwd: null, uid: -1, gid: -1, fdMap: [0, 1, 2],
    newPidNamespace: false, joinFd: -1, joinUserFd: -1, pdeathsig: 0, parentPid: 0, usePidfd: false, warmNetwork: false,
    mountProc: false, noNewPrivileges: false, foreground: false, terminal: false, newUserNamespace: false,
    uidMap: '', gidMap: '', denySetgroups: false, cgroupFd: -1, pidMax: 0, nsPid: 0,
    enterFds: native.constants.ENTER_KINDS.map(() => -1), rootFd: -1, cwdFd: -1,
    newNamespaces: 0, hostname: null, timeOffsets: null,
  });

  test.each([
    ['uid', NaN], ['uid', 1.5], ['uid', 2 ** 32], ['gid', NaN], ['gid', -2], ['pdeathsig', NaN],
    ['pdeathsig', 65], ['parentPid', Infinity], ['joinFd', NaN], ['cgroupFd', -2], ['joinUserFd', 0.5],
    ['pidMax', NaN], ['pidMax', -1], ['pidMax', 4194305], ['nsPid', 4194304], ['nsPid', 1.5],
  ])('%s = %p is a TypeError, and nothing is spawned', (field, value) => {
    expectTypeError(() => native.spawn({ ...request(), [field]: value }, notCalled));
  });

  // pid_max is written only in a new namespace (never ours), a pid chosen only in one joined.
  test('pidMax without a new PID namespace, and nsPid without joinFd, are TypeErrors', () => {
    expectTypeError(() => native.spawn({ ...request(), pidMax: 1000 }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), nsPid: 50 }, notCalled));
  });

  // Other namespaces are made only with a new PID namespace; a host name only in a UTS namespace
  // of its own, offsets only in a time namespace.
  test('newNamespaces outside the kinds or without a new PID namespace, a hostname or timeOffsets without theirs or too long, are TypeErrors', () => {
    const { NAMESPACE_TYPES } = native.constants;
    const fresh = { newPidNamespace: true };
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: NAMESPACE_TYPES.user }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: NAMESPACE_TYPES.pid }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: 1.5 }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), newNamespaces: NAMESPACE_TYPES.net }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: NAMESPACE_TYPES.net, joinFd: 0 }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, hostname: 'x' }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: NAMESPACE_TYPES.uts, hostname: 'x'.repeat(65) }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: NAMESPACE_TYPES.uts, hostname: 5 as never }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, timeOffsets: 'monotonic 1 0\n' }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), ...fresh, newNamespaces: NAMESPACE_TYPES.time, timeOffsets: 'x'.repeat(129) }, notCalled));
  });

  // A target's other namespaces and directories are entered only on the way into its PID namespace.
  test('enterFds of the wrong length or with a bad entry, rootFd or cwdFd out of range, or any of them without joinFd, are TypeErrors', () => {
    const none = native.constants.ENTER_KINDS.map(() => -1);
    expectTypeError(() => native.spawn({ ...request(), enterFds: [-1] }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), joinFd: 0, enterFds: [...none.slice(1), NaN] }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), joinFd: 0, rootFd: 1.5 }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), joinFd: 0, cwdFd: -2 }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), enterFds: [0, ...none.slice(1)] }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), rootFd: 0 }, notCalled));
    expectTypeError(() => native.spawn({ ...request(), cwdFd: 0 }, notCalled));
  });

  test.each([[[NaN]], [[0.5]], [[-2]], [[2 ** 31]], [['0']]])('fdMap %p is a TypeError', (fdMap) => {
    expectTypeError(() => native.spawn({ ...request(), fdMap: fdMap as number[] }, notCalled));
  });

  test('the library refuses a stdio array longer than the addon takes, before anything is spawned', async () => {
    await expect(spawnInPidNamespace('/bin/true', [], { stdio: Array(native.constants.MAX_FD_MAP).fill('ignore') })).rejects.toMatchObject({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
    });
  });

  test('a descriptor map longer than the child can hold is a TypeError', () => {
    expectTypeError(() => native.spawn({ ...request(), fdMap: Array(native.constants.MAX_FD_MAP + 1).fill(-1) }, notCalled));
  });

  test('closeFd(NaN) closes nothing (NaN would be stdin)', () => {
    expectTypeError(() => native.closeFd(NaN));
    expect(fs.fstatSync(0)).toBeDefined();
  });

  test('a ProcessHandle for pid NaN or 0 is refused (wait4 would reap any child of the group)', () => {
    expectTypeError(() => new native.ProcessHandle(NaN, -1, () => undefined));
    expectTypeError(() => new native.ProcessHandle(0, -1, () => undefined));
  });

  test('a signal listed twice is refused before any disposition changes', () => {
    const failure = native.forwardSignals([os.constants.signals.SIGUSR2, os.constants.signals.SIGUSR2], () => undefined);
    expect(failure).toEqual({ errno: os.constants.errno.EINVAL, syscall: 'sigaction' });
    // Nothing was installed: a second, valid call is not refused as busy.
    expect(native.forwardSignals([os.constants.signals.SIGUSR2], () => undefined)).toBeNull();
    native.stopForwardingSignals();
  });

  test('a control channel on something that is not a socket ends with end of file and closes nothing else', () => {
    const [readEnd, writeEnd] = native.pipe() as [number, number];
    const sentinels = [0, 1, 2].map(() => fs.openSync('/dev/null', 'r'));
    fs.writeSync(writeEnd, Buffer.alloc(64));
    return new Promise<void>((resolve) => {
      const types: number[] = [];
      new native.ControlChannel(readEnd, (type) => {
        types.push(type);
        if (type !== 0) return;
        expect(types).toEqual([0]);
        for (const fd of sentinels) expect(fs.fstatSync(fd).isCharacterDevice()).toBe(true);
        sentinels.forEach((fd) => fs.closeSync(fd));
        native.closeFd(writeEnd);
        resolve();
      });
    });
  });
});

describeAsRoot('changing identity never keeps Node\'s supplementary groups', () => {
  // A Node process that may change its uid (CAP_SETUID) but not its groups (no CAP_SETGID).
  const script = `
    const { spawnInPidNamespace } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
    spawnInPidNamespace('/bin/sh', ['-c', 'grep ^Groups: /proc/self/status'], { uid: 65534, init: false, stdio: ['ignore', 'pipe', 'ignore'] })
      .then(async (child) => {
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        await Promise.all([child.exited, new Promise((resolve) => child.stdout.on('end', resolve))]);
        console.log(JSON.stringify({ groups: out.trim() }));
      }, (err) => console.log(JSON.stringify({ error: err.code, syscall: err.syscall })));
  `;
  const run = (groups: string[]) => spawnSync('setpriv', [...groups, '--bounding-set=-setgid', '--inh-caps=-setgid', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20000 });

  test('groups that cannot be dropped fail the spawn with EPERM from setgroups', () => {
    const result = run(['--groups=4,27']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ error: 'EPERM', syscall: 'setgroups' });
  });

  test('with no groups to drop, the spawn goes on and the command has none', () => {
    const result = run(['--clear-groups']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ groups: 'Groups:' });
  });
});

describeAsRoot('the init is not dumpable', () => {
  test('a command running as another uid can neither list the init\'s descriptors nor read its namespace links', async () => {
    const child = await spawnInPidNamespace('/bin/sh', ['-c', 'ls /proc/1/fd >/dev/null 2>&1; echo fd=$?; readlink /proc/1/ns/pid >/dev/null 2>&1; echo ns=$?; ls /proc/self/fd >/dev/null; echo self=$?'], {
      uid: 65534, gid: 65534, mountProc: true, stdio: ['ignore', 'pipe', 'ignore'],
    });
    const out = await readAll(child.stdout);
    expect(await child.exited).toMatchObject({ code: 0, signal: null });
    expect(out.trim().split('\n')).toEqual(['fd=2', 'ns=1', 'self=0']);
  });
});
