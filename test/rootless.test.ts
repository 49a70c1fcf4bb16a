// Without root: a user namespace created with the PID namespace. Run as nobody from the root
// test run, with every capability dropped.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collect, status } from './kernel';
import { asNobody, loadPublicInstall, publicInstall } from './public-install';
import { describeAsRoot } from './root';
import { fixture, runFixture } from './subprocess';

/** Runs the command through the copy of the package every user can read: as nobody, or as root. */
function report(command: string, args: string[], options: object, asNobody = true) {
  const run = runFixture('run-report.js', [JSON.stringify([command, args, options])], { asNobody, fromPublicInstall: true });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout);
}

const whoAmI = ['-c', 'id -u; id -g; cat /proc/self/uid_map; echo $$; cat /proc/self/setgroups'];

describeAsRoot('rootless (as nobody, userNamespace: true)', () => {
  test('without userNamespace nobody gets EPERM with the hint to use it', () => {
    const r = report('true', [], {});
    expect(r.error).toMatchObject({ code: 'EPERM', syscall: 'clone' });
  });

  test('under the init: uid and gid 0 inside, mapped to nobody; the command is pid 2', () => {
    const r = report('sh', whoAmI, { userNamespace: true });
    expect(r.error).toBeUndefined();
    const [uid, gid, map, pid, setgroups] = r.stdout.trim().split('\n');
    expect([uid, gid]).toEqual(['0', '0']);
    expect(map.trim().split(/\s+/)).toEqual(['0', '65534', '1']);
    expect(pid).toBe('2');
    expect(setgroups).toBe('deny'); // the kernel takes an unprivileged gid map only so
    expect(r.nsPid).toBe(2);
    expect(r.init).toMatchObject({ nsPid: 1 });
    expect(r.exited).toMatchObject({ code: 0, signal: null });
  });

  test('without the init: the command is pid 1, uid 0 inside', () => {
    const r = report('sh', whoAmI, { userNamespace: true, init: false });
    const [uid, , , pid] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(pid).toBe('1');
    expect(r.nsPid).toBe(1);
  });

  test('explicit maps of your own ids work; a map needing privilege is refused with a hint', () => {
    const own = report('sh', ['-c', 'id -u; id -g'], { userNamespace: { uidMap: [{ containerId: 1000, hostId: 65534, size: 1 }], gidMap: [{ containerId: 1000, hostId: 65534, size: 1 }] } });
    expect(own.stdout).toBe('1000\n1000\n');
    const wide = report('true', [], { userNamespace: { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }] } });
    expect(wide.error).toMatchObject({ code: 'EPERM', syscall: 'uid_map' });
    expect(wide.error.message).toMatch(/map only your own ids/);
  });

  test('mountProc: ps inside shows only the namespace', () => {
    const r = report('sh', ['-c', 'ps -e -o pid='], { userNamespace: true, mountProc: true });
    expect(r.stdout.trim().split(/\s+/).map(Number).slice(0, 2)).toEqual([1, 2]);
    expect(r.stdout.trim().split('\n').length).toBe(3); // init, sh, ps
  });

  test('a pod with two members in the same namespace that see each other', () => {
    const run = runFixture('pod-report.js', [JSON.stringify({ userNamespace: true, mountProc: true })], { asNobody: true });
    expect(run.stderr).toBe('');
    const pod = JSON.parse(run.stdout);
    expect(pod.error).toBeUndefined();
    expect(pod.members.map((m: { namespaceId: number }) => m.namespaceId)).toEqual([pod.id, pod.id]);
    expect(pod.members.map((m: { nsPid: number }) => m.nsPid)).toEqual([2, 3]);
    const [uid, ...seen] = pod.members[1].stdout.trim().split('\n');
    expect(uid).toBe('0');
    const seenPids = seen.map((line: string) => Number(line.trim().split(/\s+/)[0]));
    expect(seenPids).toEqual(expect.arrayContaining([1, 2, 3]));
    expect(pod.processes.map((p: { nsPid: number }) => p.nsPid)).toEqual([1, 2]); // the second member has ended
    expect(pod.left).toBe(0);
  });
});

// With a map that makes root inside uid 100000 outside, the init runs as uid 100000, which must be
// able to reach the package: these use the copy every user can read, not the checkout.
describeAsRoot('user namespaces as root', () => {
  test('a wide map needs the privilege root has; setgroups stays allowed', () => {
    const maps = { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMap: [{ containerId: 0, hostId: 100000, size: 65536 }] };
    const r = report('sh', ['-c', 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u'], { userNamespace: maps }, false);
    const lines = r.stdout.trim().split('\n').map((l: string) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual(['0 100000 65536', '0 100000 65536', 'allow', '0']);
  });

  test('a package the mapped uid cannot reach (under a 0700 folder): EACCES for the init, saying so', () => {
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-closed-'));
    try {
      const { root } = publicInstall();
      for (const part of ['package.json', 'dist', 'build', 'node_modules', 'test']) fs.cpSync(path.join(root, part), path.join(closed, part), { recursive: true });
      const maps = { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMap: [{ containerId: 0, hostId: 100000, size: 65536 }] };
      const run = spawnSync(process.execPath, [path.join(closed, 'test', 'fixtures', 'run-report.js'), JSON.stringify(['true', [], { userNamespace: maps }])], { encoding: 'utf8', timeout: 20000 });
      expect(run.stderr).toBe('');
      const r = JSON.parse(run.stdout);
      expect(r.error).toMatchObject({ code: 'EACCES', syscall: 'execve' });
      expect(r.error.message).toContain(`cannot run ${path.join(closed, 'build', 'Release', 'pidns-init')}`);
      expect(r.error.message).toMatch(/install pidns in a folder every user can enter/);
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });

  test('a pod with a wide map: pid 1 and members are root inside, uid 100000 outside', async () => {
    const maps = { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMap: [{ containerId: 0, hostId: 100000, size: 65536 }] };
    const { PidNamespace: PublicPidNamespace } = loadPublicInstall();
    await using ns = await PublicPidNamespace.create({ userNamespace: maps, mountProc: true });
    const member = await ns.spawn('sh', ['-c', 'id -u; ps -e -o user= | sort -u; read wait']);
    // Read while the member runs: once it has exited and been reaped its /proc entry is gone.
    expect(fs.readlinkSync(`/proc/${member.pid}/ns/user`)).toBe(fs.readlinkSync(`/proc/${ns.init!.pid}/ns/user`));
    const output = collect(member.stdout);
    member.stdin!.end();
    expect(await output).toBe('0\nroot\n');
    expect(status(ns.init!.pid).get('Uid')!.split(/\s+/)).toEqual(['100000', '100000', '100000', '100000']);
  });
});

// Refusals a newcomer meets on other systems, made here for real: as nobody, in a mount namespace
// of its own set up by root (`unshare --mount`) the way those systems are.
describeAsRoot('refused user namespaces give hints that name the settings', () => {
  /** Runs run-report.js as nobody after `setup` (a shell line; $0 is an empty folder), optionally chrooted there. */
  function asNobodyAfter(setup: string, options: object, chroot = false) {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-refusal-'));
    try {
      const command = [...(chroot ? ['chroot', scratch] : []), ...asNobody(fixture('run-report.js'), [JSON.stringify(['true', [], options])])];
      const run = spawnSync('unshare', ['--mount', 'sh', '-c', `${setup} && exec "$@"`, scratch, ...command], { encoding: 'utf8', timeout: 20000 });
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout);
    } finally {
      fs.rmdirSync(scratch);
    }
  }

  test('clone refused (EPERM, as under AppArmor restriction, kernel.unprivileged_userns_clone=0 or a seccomp filter)', () => {
    // The kernel refuses a user namespace to a chrooted process with EPERM at clone, the same
    // refusal those systems give. The chroot is a bind mount of /, so every path stays the same.
    const r = asNobodyAfter('mount --rbind / "$0"', { userNamespace: true }, true);
    expect(r.error).toMatchObject({ code: 'EPERM', syscall: 'clone' });
    expect(r.error.message).toMatch(/kernel\.apparmor_restrict_unprivileged_userns=0/);
    expect(r.error.message).toMatch(/kernel\.unprivileged_userns_clone=0/);
    expect(r.error.message).toMatch(/seccomp profile/);
  });

  test('a new /proc refused where mounts hide parts of the current one (a container\'s masked paths)', () => {
    const r = asNobodyAfter('mount --bind /dev/null /proc/keys', { userNamespace: true, mountProc: true });
    expect(r.error).toMatchObject({ code: 'EPERM', syscall: 'mount' });
    expect(r.error.message).toMatch(/systempaths=unconfined/);
  });
});

describeAsRoot('namespace limits give errors that name the limit', () => {
  // The limits are per user namespace: set to 0 inside one made for the test, the host's stay.
  function underLimit(limit: string, options: object) {
    const script = `echo 0 > /proc/sys/user/${limit} && exec "$0" "$1" "$2"`;
    const run = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', script, process.execPath, fixture('run-report.js'), JSON.stringify(['true', [], options])], { encoding: 'utf8', timeout: 20000 });
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout);
  }

  test('user.max_user_namespaces = 0', () => {
    const r = underLimit('max_user_namespaces', { userNamespace: true });
    expect(r.error).toMatchObject({ code: 'ENOSPC', syscall: 'clone' });
    expect(r.error.message).toMatch(/user\.max_user_namespaces is 0/);
  });

  test('user.max_pid_namespaces = 0', () => {
    const r = underLimit('max_pid_namespaces', {});
    expect(r.error).toMatchObject({ code: 'ENOSPC', syscall: 'clone' });
    expect(r.error.message).toMatch(/user\.max_pid_namespaces is 0/);
  });
});
