// The namespaces made with a new PID namespace (options.namespaces, hostname, timeOffsets), read
// back from the kernel: /proc/PID/ns links inside against Node's, the interfaces and the loopback
// interface of a new network namespace, the host name, the time namespace's offsets and clocks,
// the cgroup namespace's root, mount propagation, pods whose members share them, as root and as
// nobody with a user namespace; and the typed errors before anything starts.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, runInPidNamespace, spawnInPidNamespace, type NewNamespaceKind, type SpawnOptions } from '../lib';
import { cgroup2Mounts } from '../lib/cgroup';
import { systemError } from '../lib/errors';
import { childrenOfSelf, collect } from './kernel';
import { describeAsRoot } from './root';
import { runFixture } from './subprocess';

const KINDS: NewNamespaceKind[] = ['cgroup', 'ipc', 'mnt', 'net', 'time', 'uts'];
const ALL_LINKS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'uts', 'user'];
/** Prints "name link" for each namespace of the process that runs it. */
const PRINT_LINKS = `for n in ${ALL_LINKS.join(' ')}; do echo "$n $(readlink /proc/self/ns/$n)"; done`;

function ownLinks(): Map<string, string> {
  return new Map(ALL_LINKS.map((n) => [n, fs.readlinkSync(`/proc/self/ns/${n}`)]));
}

function parseLinks(text: string): Map<string, string> {
  return new Map(text.trim().split('\n').map((line) => line.split(' ') as [string, string]));
}

/** The namespaces whose link differs from Node's. */
function differing(links: Map<string, string>): string[] {
  const own = ownLinks();
  return ALL_LINKS.filter((n) => links.get(n) !== own.get(n));
}

async function output(command: string, args: string[], options: SpawnOptions): Promise<string> {
  const r = await runInPidNamespace(command, args, options);
  return r.stdout;
}

const uptime = (text: string) => Number(text.split(' ')[0]);

describeAsRoot('namespaces: each one made with the PID namespace, read back from /proc/PID/ns', () => {
  for (const init of [true, false]) {
    test.each(KINDS)(`'%s' alone (init: ${init}): only it and the PID namespace differ from Node's`, async (kind) => {
      const links = parseLinks(await output('sh', ['-c', PRINT_LINKS], { init, namespaces: [kind] }));
      expect(differing(links)).toEqual(ALL_LINKS.filter((n) => n === kind || n === 'pid'));
    });
  }

  test('all six, with a user namespace as root: every link differs', async () => {
    for (const init of [true, false]) {
      const links = parseLinks(await output('sh', ['-c', PRINT_LINKS], { init, namespaces: KINDS, userNamespace: true }));
      expect(differing(links)).toEqual(ALL_LINKS);
    }
  });

  test('none named: only the PID namespace differs; mountProc alone makes a mount namespace too', async () => {
    expect(differing(parseLinks(await output('sh', ['-c', PRINT_LINKS], {})))).toEqual(['pid']);
    expect(differing(parseLinks(await output('sh', ['-c', PRINT_LINKS], { mountProc: true })))).toEqual(['mnt', 'pid']);
    expect(differing(parseLinks(await output('sh', ['-c', PRINT_LINKS], { mountProc: true, namespaces: ['mnt'] })))).toEqual(['mnt', 'pid']);
  });

  test('the init itself is in them: its links equal the command\'s', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', `${PRINT_LINKS}; read x`], { namespaces: KINDS, stdio: ['pipe', 'pipe', 'inherit'] });
    const text = collect(child.stdout);
    await new Promise((r) => setTimeout(r, 200));
    const initLinks = new Map(ALL_LINKS.map((n) => [n, fs.readlinkSync(`/proc/${child.init!.pid}/ns/${n}`)]));
    child.stdin!.end('\n');
    await child.exited;
    expect(parseLinks(await text)).toEqual(initLinks);
  });
});

describeAsRoot("namespaces: 'net' has only the loopback interface, and it is up", () => {
  // A TCP connection over 127.0.0.1 inside: it fails with ENETUNREACH while lo is down.
  const PING = `const n = require('net');
const s = n.createServer((c) => c.end('pong')).listen(0, '127.0.0.1', () => {
  n.connect(s.address().port, '127.0.0.1').on('data', (d) => { console.log(String(d)); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(1); });
});`;

  for (const userNamespace of [false, true]) {
    for (const init of [true, false]) {
      test(`userNamespace ${userNamespace}, init ${init}: /proc/net/dev lists only lo, ::1 is on it, and a connection to 127.0.0.1 works`, async () => {
        const options: SpawnOptions = { init, userNamespace, namespaces: ['net'] };
        const dev = await output('cat', ['/proc/net/dev'], options);
        expect(dev.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim())).toEqual(['lo']);
        const inet6 = await output('cat', ['/proc/net/if_inet6'], options);
        if (fs.existsSync('/proc/net/if_inet6')) expect(inet6).toMatch(/^0{31}1 .* lo$/m);
        expect(await output(process.execPath, ['-e', PING], options)).toBe('pong\n');
      });
    }
  }

  test("without 'net' the command sees Node's interfaces", async () => {
    const inside = await output('cat', ['/proc/net/dev'], {});
    const names = (text: string) => text.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim()).sort();
    expect(names(inside)).toEqual(names(fs.readFileSync('/proc/net/dev', 'utf8')));
  });
});

describeAsRoot("namespaces: 'uts' and hostname", () => {
  test('the host name inside is the one given; Node\'s is unchanged', async () => {
    const before = os.hostname();
    for (const init of [true, false]) {
      expect(await output('cat', ['/proc/sys/kernel/hostname'], { init, namespaces: ['uts'], hostname: 'pidns-box' })).toBe('pidns-box\n');
      expect(await output('hostname', [], { init, namespaces: ['uts'], hostname: 'x'.repeat(64), userNamespace: true })).toBe(`${'x'.repeat(64)}\n`);
    }
    expect(os.hostname()).toBe(before);
    expect(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()).toBe(before);
  });

  test("'uts' without hostname starts with Node's host name, and a change inside stays there", async () => {
    const before = os.hostname();
    expect(await output('sh', ['-c', 'hostname changed-inside && hostname'], { namespaces: ['uts'] })).toBe('changed-inside\n');
    expect(await output('hostname', [], { namespaces: ['uts'] })).toBe(`${before}\n`);
    expect(os.hostname()).toBe(before);
  });
});

describeAsRoot("namespaces: 'time' and timeOffsets", () => {
  test('timens_offsets of the command and the init, read from outside, are the offsets given', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'read x'], { namespaces: ['time'], timeOffsets: { monotonic: 3600, boottime: 86400 * 400 }, stdio: ['pipe', 'ignore', 'inherit'] });
    const offsets = (pid: number) => fs.readFileSync(`/proc/${pid}/timens_offsets`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/));
    for (const pid of [child.pid, child.init!.pid]) expect(offsets(pid)).toEqual([['monotonic', '3600', '0'], ['boottime', String(86400 * 400), '0']]);
    expect(offsets(process.pid)).toEqual([['monotonic', '0', '0'], ['boottime', '0', '0']]);
    child.stdin!.end('\n');
    await child.exited;
  });

  for (const init of [true, false]) {
    test(`init ${init}: /proc/uptime (CLOCK_BOOTTIME) and CLOCK_MONOTONIC inside are ours plus the offsets`, async () => {
      const timeOffsets = { monotonic: 1000, boottime: 86400 * 365 };
      const script = "console.log(require('fs').readFileSync('/proc/uptime', 'utf8').trim(), String(process.hrtime.bigint() / 1000000000n))";
      const before = { up: uptime(fs.readFileSync('/proc/uptime', 'utf8')), mono: Number(process.hrtime.bigint() / 1_000_000_000n) };
      const [upInside, , monoInside] = (await output(process.execPath, ['-e', script], { init, namespaces: ['time'], timeOffsets })).trim().split(' ');
      const after = { up: uptime(fs.readFileSync('/proc/uptime', 'utf8')), mono: Number(process.hrtime.bigint() / 1_000_000_000n) };
      expect(Number(upInside)).toBeGreaterThanOrEqual(before.up + timeOffsets.boottime - 1);
      expect(Number(upInside)).toBeLessThanOrEqual(after.up + timeOffsets.boottime + 1);
      expect(Number(monoInside)).toBeGreaterThanOrEqual(before.mono + timeOffsets.monotonic - 1);
      expect(Number(monoInside)).toBeLessThanOrEqual(after.mono + timeOffsets.monotonic + 1);
    });
  }

  test('a negative offset, with a user namespace: the clock inside is behind ours', async () => {
    const [up] = (await output('cat', ['/proc/uptime'], { namespaces: ['time'], timeOffsets: { boottime: -60 }, userNamespace: true })).split(' ');
    const ours = uptime(fs.readFileSync('/proc/uptime', 'utf8'));
    expect(Number(up)).toBeGreaterThan(ours - 62);
    expect(Number(up)).toBeLessThan(ours - 58);
  });

  test('offsets are added to the clocks as Node reads them: in a time namespace of its own, Node gives its offsets plus the ones asked for', () => {
    const script = `
      const { spawnInPidNamespace } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      const fs = require('fs');
      spawnInPidNamespace('sh', ['-c', 'read x'], { namespaces: ['time'], timeOffsets: { monotonic: 5 }, stdio: ['pipe', 'ignore', 'inherit'] }).then(async (child) => {
        console.log(fs.readFileSync('/proc/' + child.pid + '/timens_offsets', 'utf8').trim().replace(/\\s+/g, ' '));
        child.stdin.end('\\n');
        await child.exited;
      });`;
    const r = spawnSync('unshare', ['--time', '--monotonic=500000', '--boottime=1000000', '--', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toBe('monotonic 500005 0 boottime 1000000 0\n');
  });

  test("'time' without offsets: a namespace of its own with zero offsets", async () => {
    const links = parseLinks(await output('sh', ['-c', `${PRINT_LINKS}; cat /proc/self/timens_offsets >&2`], { namespaces: ['time'] }));
    expect(differing(links)).toEqual(['pid', 'time']);
  });
});

describeAsRoot("namespaces: 'cgroup' is rooted at the cgroup the namespace is placed in", () => {
  const V2 = cgroup2Mounts()[0];
  const line = (text: string) => text.split('\n').find((l) => l.startsWith('0::'));

  for (const init of [true, false]) {
    test(`init ${init}: with the cgroup option the command reads 0::/, Node sees the cgroup's path`, async () => {
      const child = await spawnInPidNamespace('sh', ['-c', 'cat /proc/self/cgroup; read x'], { init, namespaces: ['cgroup'], cgroup: { parent: V2 }, stdio: ['pipe', 'pipe', 'inherit'] });
      const text = collect(child.stdout);
      const outside = line(fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8'));
      child.stdin!.end('\n');
      await child.exited;
      expect(line(await text)).toBe('0::/');
      expect(outside).toMatch(/^0::\/pidns-/);
    });
  }

  test("without 'cgroup' the command reads its cgroup's full path", async () => {
    const text = await output('cat', ['/proc/self/cgroup'], { cgroup: { parent: V2 } });
    expect(line(text)).toMatch(/^0::\/pidns-/);
  });
});

describeAsRoot("namespaces: 'mnt' has private propagation", () => {
  test('a mount made inside does not appear in Node\'s mount namespace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-mnt-'));
    try {
      const inside = await output('sh', ['-c', `mount -t tmpfs pidns-test-tmpfs ${dir} && grep -c pidns-test-tmpfs /proc/self/mountinfo`], { namespaces: ['mnt'] });
      expect(inside).toBe('1\n');
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('pidns-test-tmpfs');
      const propagation = await output('sh', ['-c', 'grep -c shared: /proc/self/mountinfo || true'], { namespaces: ['mnt'] });
      expect(propagation).toBe('0\n');
    } finally {
      fs.rmdirSync(dir);
    }
  });
});

describeAsRoot('namespaces: pods share theirs with every member', () => {
  test.each([false, true])('userNamespace %s: members are in the pod\'s net, uts, ipc, mnt and cgroup namespaces, with its host name', async (userNamespace) => {
    const pod = await PidNamespace.create({ userNamespace, namespaces: ['cgroup', 'ipc', 'mnt', 'net', 'uts'], hostname: 'pod-host' });
    try {
      const podLinks = new Map(ALL_LINKS.map((n) => [n, fs.readlinkSync(`/proc/${pod.init!.pid}/ns/${n}`)]));
      for (let i = 0; i < 2; i++) {
        const r = await pod.run('sh', ['-c', `${PRINT_LINKS}; hostname >&2`]);
        expect(parseLinks(r.stdout)).toEqual(podLinks);
        expect(r.stderr).toBe('pod-host\n');
      }
      expect(differing(podLinks)).toEqual(userNamespace ? ALL_LINKS.filter((n) => n !== 'time') : ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts']);
    } finally {
      await pod.close();
    }
  });

  test("a member's own joinNamespaces adds to the pod's, and one given as undefined is one not given", async () => {
    const pod = await PidNamespace.create({ namespaces: ['mnt', 'uts'], hostname: 'pod-host', mountProc: true });
    try {
      const podLinks = new Map(ALL_LINKS.map((n) => [n, fs.readlinkSync(`/proc/${pod.init!.pid}/ns/${n}`)]));
      for (const own of [{ joinNamespaces: undefined }, { joinNamespaces: ['net'] as const }, { joinNamespaces: ['uts'] as const }, { mountProc: undefined }]) {
        const r = await pod.run('sh', ['-c', `${PRINT_LINKS}; hostname >&2; cat /proc/1/comm >&2`], own as SpawnOptions);
        expect({ own, links: parseLinks(r.stdout), stderr: r.stderr }).toEqual({ own, links: podLinks, stderr: 'pod-host\npidns-init\n' });
      }
    } finally {
      await pod.close();
    }
  });

  test("'mnt' with mountProc: the pod's pid 1 mounts its /proc once, and members see the pod in it", async () => {
    const pod = await PidNamespace.create({ namespaces: ['mnt'], mountProc: true });
    try {
      const r = await pod.run('sh', ['-c', `readlink /proc/self/ns/mnt; ls /proc | grep -E "^[0-9]+$" | sort -n`]);
      const [mnt, ...pids] = r.stdout.trim().split('\n');
      expect(mnt).toBe(fs.readlinkSync(`/proc/${pod.init!.pid}/ns/mnt`));
      expect(pids.map(Number).slice(0, 2)).toEqual([1, 2]);
    } finally {
      await pod.close();
    }
  });

  test("'mnt' without mountProc: a member that asks for mountProc gets its own copy of the pod's mount namespace, with the pod's /proc", async () => {
    const pod = await PidNamespace.create({ namespaces: ['mnt'] });
    try {
      const podMnt = fs.readlinkSync(`/proc/${pod.init!.pid}/ns/mnt`);
      const plain = await pod.run('readlink', ['/proc/self/ns/mnt']);
      expect(plain.stdout.trim()).toBe(podMnt);
      const own = await pod.run('sh', ['-c', 'readlink /proc/self/ns/mnt; ls /proc | grep -E "^[0-9]+$" | sort -n'], { mountProc: true });
      const [mnt, ...pids] = own.stdout.trim().split('\n');
      expect(mnt).not.toBe(podMnt);
      expect(mnt).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
      // The pod's pid 1, this member (pid 3: the first member was 2) and what it forked, only.
      const seen = pids.map(Number);
      expect(seen.slice(0, 2)).toEqual([1, 3]);
      expect(Math.max(...seen)).toBeLessThan(10);
    } finally {
      await pod.close();
    }
  });

  test("a pod with 'time' is a typed error, before anything starts", async () => {
    const before = childrenOfSelf().length;
    await expect(PidNamespace.create({ namespaces: ['time'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('EUSERS') });
    expect(childrenOfSelf().length).toBe(before);
  });
});

describe('namespaces: bad input is a typed error and nothing is spawned', () => {
  const cases: [string, SpawnOptions | Record<string, unknown>, string][] = [
    ['not an array', { namespaces: 'net' }, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown name', { namespaces: ['network'] }, 'ERR_INVALID_ARG_VALUE'],
    ['a name twice', { namespaces: ['net', 'net'] }, 'ERR_INVALID_ARG_VALUE'],
    ["'pid'", { namespaces: ['pid'] }, 'ERR_INVALID_ARG_VALUE'],
    ["'user'", { namespaces: ['user'] }, 'ERR_INVALID_ARG_VALUE'],
    ['a number in the list', { namespaces: [1] }, 'ERR_INVALID_ARG_VALUE'],
    ["hostname without 'uts'", { hostname: 'x' }, 'ERR_INVALID_ARG_VALUE'],
    ['hostname of 65 bytes', { namespaces: ['uts'], hostname: 'x'.repeat(65) }, 'ERR_OUT_OF_RANGE'],
    ['hostname of 33 two-byte characters', { namespaces: ['uts'], hostname: 'é'.repeat(33) }, 'ERR_OUT_OF_RANGE'],
    ['an empty hostname', { namespaces: ['uts'], hostname: '' }, 'ERR_INVALID_ARG_VALUE'],
    ['a hostname with a null byte', { namespaces: ['uts'], hostname: 'a\u0000b' }, 'ERR_INVALID_ARG_VALUE'],
    ['a hostname not a string', { namespaces: ['uts'], hostname: 5 }, 'ERR_INVALID_ARG_TYPE'],
    ["timeOffsets without 'time'", { timeOffsets: { boottime: 1 } }, 'ERR_INVALID_ARG_VALUE'],
    ['timeOffsets not an object', { namespaces: ['time'], timeOffsets: 5 }, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown clock', { namespaces: ['time'], timeOffsets: { realtime: 5 } }, 'ERR_INVALID_ARG_VALUE'],
    ['a fraction', { namespaces: ['time'], timeOffsets: { monotonic: 1.5 } }, 'ERR_OUT_OF_RANGE'],
    ['NaN', { namespaces: ['time'], timeOffsets: { monotonic: NaN } }, 'ERR_OUT_OF_RANGE'],
    ['Infinity', { namespaces: ['time'], timeOffsets: { boottime: Infinity } }, 'ERR_OUT_OF_RANGE'],
    ['above KTIME_SEC_MAX / 2', { namespaces: ['time'], timeOffsets: { boottime: 4611686019 } }, 'ERR_OUT_OF_RANGE'],
    ['a clock taken below 0', { namespaces: ['time'], timeOffsets: { monotonic: -4611686018 } }, 'ERR_OUT_OF_RANGE'],
    ['a clock taken above KTIME_SEC_MAX / 2', { namespaces: ['time'], timeOffsets: { boottime: 4611686018 } }, 'ERR_OUT_OF_RANGE'],
    ['a string offset', { namespaces: ['time'], timeOffsets: { boottime: '5' } }, 'ERR_INVALID_ARG_TYPE'],
    ['with join', { join: process.pid, init: false, namespaces: ['net'] }, 'ERR_INVALID_ARG_VALUE'],
    ['hostname with join', { join: process.pid, init: false, hostname: 'x' }, 'ERR_INVALID_ARG_VALUE'],
    ['with newNamespace false', { newNamespace: false, namespaces: ['uts'] }, 'ERR_INVALID_ARG_VALUE'],
    ["with newNamespace 'auto'", { newNamespace: 'auto', timeOffsets: {} }, 'ERR_INVALID_ARG_VALUE'],
  ];
  test.each(cases)('%s', async (_name, options, code) => {
    const before = childrenOfSelf().length;
    await expect(spawnInPidNamespace('true', [], options as SpawnOptions)).rejects.toMatchObject({ code });
    expect(childrenOfSelf().length).toBe(before);
  });

  test('a pod checks them the same way', async () => {
    await expect(PidNamespace.create({ namespaces: ['uts', 'uts'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(PidNamespace.create({ hostname: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(PidNamespace.create({ namespaces: ['uts'], hostname: 'x'.repeat(65) })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });

  test('members of a pod cannot ask for namespaces of their own', async () => {
    const member = { join: { id: 1, namespacePath: '/proc/1/ns/pid' }, init: false, namespaces: ['net'] } as SpawnOptions;
    await expect(spawnInPidNamespace('true', [], member)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe("namespaces: the kernel's refusals carry hints", () => {
  const E = os.constants.errno;
  test('a namespace limit names its sysctl', () => {
    const err = systemError(E.ENOSPC, 'clone', { action: 'spawn true', newNamespaces: ['net', 'uts'] });
    expect(err.message).toMatch(/max_net_namespaces/);
    expect(err.message).toMatch(/max_uts_namespaces/);
  });
  test('cgroup and time namespaces refused: privilege, or a kernel without them', () => {
    expect(systemError(E.EPERM, 'unshare', { action: 'spawn true', newNamespaces: ['time'] }).message).toMatch(/CAP_SYS_ADMIN.*userNamespace: true/);
    expect(systemError(E.EINVAL, 'unshare', { action: 'spawn true', newNamespaces: ['time'] }).message).toMatch(/CONFIG_TIME_NS/);
  });
  test('offsets, host name and loopback', () => {
    expect(systemError(E.ERANGE, 'timens_offsets', { action: 'spawn true', newNamespaces: ['time'] }).message).toMatch(/below 0/);
    expect(systemError(E.EPERM, 'sethostname', { action: 'spawn true', newNamespaces: ['uts'] }).message).toMatch(/CAP_SYS_ADMIN/);
    expect(systemError(E.EPERM, 'ioctl', { action: 'spawn true', newNamespaces: ['net'], namespace: 'net' }).message).toMatch(/CAP_NET_ADMIN/);
  });
});

describeAsRoot('namespaces: as nobody, with userNamespace', () => {
  const report = (command: string, args: string[], options: object) => {
    const run = runFixture('run-report.js', [JSON.stringify([command, args, options])], { asNobody: true });
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout);
  };

  test('every kind, a host name and offsets: links differ, the host name and offsets are there, lo is up', () => {
    const script = `${PRINT_LINKS}; hostname; cat /proc/self/timens_offsets; cat /proc/net/if_inet6; grep ^0:: /proc/self/cgroup`;
    for (const init of [true, false]) {
      const r = report('sh', ['-c', script], { init, userNamespace: true, namespaces: KINDS, hostname: 'nobody-box', timeOffsets: { monotonic: 5, boottime: 7 } });
      expect(r.error).toBeUndefined();
      const lines = r.stdout.trim().split('\n');
      expect(differing(parseLinks(lines.slice(0, ALL_LINKS.length).join('\n')))).toEqual(ALL_LINKS);
      const rest = lines.slice(ALL_LINKS.length);
      expect(rest[0]).toBe('nobody-box');
      expect(rest.slice(1, 3).map((l: string) => l.trim().split(/\s+/))).toEqual([['monotonic', '5', '0'], ['boottime', '7', '0']]);
      expect(rest.join('\n')).toMatch(/ lo$/m);
      expect(rest[rest.length - 1]).toBe('0::/');
    }
  });

  test('without userNamespace: EPERM at clone, with the hint to use it', () => {
    const r = report('true', [], { namespaces: ['net'] });
    expect(r.error).toMatchObject({ code: 'EPERM', syscall: 'clone' });
    expect(r.error.message).toMatch(/userNamespace: true/);
  });

  test('a pod of nobody shares its namespaces and host name with members', () => {
    const run = runFixture('pod-namespaces-report.js', [JSON.stringify({ userNamespace: true, namespaces: ['net', 'uts', 'ipc'], hostname: 'nobody-pod' })], { asNobody: true });
    expect(run.stderr).toBe('');
    const pod = JSON.parse(run.stdout);
    expect(pod.error).toBeUndefined();
    const lines = pod.member.trim().split('\n');
    expect(Object.fromEntries(parseLinks(lines.slice(0, ALL_LINKS.length).join('\n')))).toEqual(pod.init);
    expect(differing(new Map(Object.entries(pod.init)))).toEqual(['ipc', 'net', 'pid', 'uts', 'user']);
    expect(lines[ALL_LINKS.length]).toBe('nobody-pod');
  });
});

describeAsRoot('namespaces: pidns run flags', () => {
  const cli = path.join(__dirname, '..', 'dist', 'cli.js');
  const pidns = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  test('--net --uts --hostname --time --monotonic --boottime, as unshare spells them', () => {
    const r = pidns('run', '--net', '--uts', '--hostname', 'cli-box', '--time', '--monotonic=-1', '--boottime', '100', '--', 'sh', '-c', 'hostname; cat /proc/self/timens_offsets; cat /proc/net/dev');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('cli-box');
    expect(lines.slice(1, 3).map((l) => l.trim().split(/\s+/))).toEqual([['monotonic', '-1', '0'], ['boottime', '100', '0']]);
    expect(lines.slice(5).map((l) => l.split(':')[0].trim())).toEqual(['lo']);
  });

  test('--no-init --time: the command, pid 1, has the offsets', () => {
    const r = pidns('run', '--no-init', '--time', '--boottime', '42', '--', 'sh', '-c', 'echo $$; cat /proc/self/timens_offsets');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('1');
    expect(lines[2].trim().split(/\s+/)).toEqual(['boottime', '42', '0']);
  });

  test('short flags -m -n -u -i -C -T: every link differs but the user namespace', () => {
    const r = pidns('run', '-mnuiCT', '--', 'sh', '-c', PRINT_LINKS);
    expect(r.status).toBe(0);
    expect(differing(parseLinks(r.stdout))).toEqual(ALL_LINKS.filter((n) => n !== 'user'));
  });

  test.each([
    [['--hostname', 'x'], /--hostname needs --uts/],
    [['--boottime', '1'], /--boottime needs --time/],
    [['--time', '--monotonic', '1.5'], /--monotonic must be an integer/],
    [['--uts', '--hostname', 'x'.repeat(65)], /at most|1 to 64 bytes/],
    [['--net', '--join', '1'], /--net cannot be used with --join/],
    [['--ipc', '--no-new-namespace'], /--ipc cannot be used with --no-new-namespace/],
  ])('bad usage %j: one line, exit 2', (args, message) => {
    const r = pidns('run', ...args, '--', 'true');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('pidns run --help shows them', () => {
    const help = pidns('run', '--help').stdout;
    for (const flag of ['--mount', '--net', '--uts', '--ipc', '--cgroup', '--time', '--hostname', '--monotonic', '--boottime']) expect(help).toContain(flag);
  });
});
