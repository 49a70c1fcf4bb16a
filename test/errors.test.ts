// Kernel refusals become SystemError-shaped errors, and nothing is left behind.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnInPidNamespace } from '../lib';
import { childrenOfSelf, ownDescriptorCount } from './kernel';
import { describeAsRoot } from './root';
import { runFixture } from './subprocess';

describeAsRoot('refusals', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-errors-'));
  let fdsBefore: number;
  // libuv closes a watched descriptor in a close callback, a loop turn after the handle's close:
  // counted before that, the previous test's last descriptors would still be there.
  const settled = async () => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  beforeEach(async () => {
    await settled();
    fdsBefore = ownDescriptorCount();
  });
  afterEach(async () => {
    await settled();
    expect(childrenOfSelf()).toEqual([]);
    expect(ownDescriptorCount()).toBe(fdsBefore);
  });

  test.each([true, false])('ENOENT for a command that does not exist (init: %s)', async (init) => {
    const err = await spawnInPidNamespace('pidns-no-such-command', ['x'], { init }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'execve', path: 'pidns-no-such-command', spawnargs: ['pidns-no-such-command', 'x'] });
    expect(err.message).toMatch(/not found/);
  });

  test.each([true, false])('ENOENT for an absolute path that does not exist (init: %s)', async (init) => {
    await expect(spawnInPidNamespace('/nonexistent/bin/x', [], { init })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'execve', path: '/nonexistent/bin/x' });
  });

  test.each([true, false])('EACCES for a file that is not executable (init: %s)', async (init) => {
    await expect(spawnInPidNamespace('/etc/passwd', [], { init })).rejects.toMatchObject({ code: 'EACCES', errno: -13, syscall: 'execve' });
  });

  // Files that PATH lookup accepts (they exist and are executable) but execve refuses: the error
  // comes from inside the new namespace, from the child or from the init.
  test.each([true, false])('ENOENT for a script whose interpreter is missing (init: %s)', async (init) => {
    const script = path.join(tmp, 'missing-interpreter');
    fs.writeFileSync(script, '#!/nonexistent/interpreter\n', { mode: 0o755 });
    const err = await spawnInPidNamespace(script, [], { init }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'execve', path: script });
  });

  test.each([true, false])('ENOEXEC for an executable file of no known format (init: %s)', async (init) => {
    const file = path.join(tmp, 'not-a-program');
    fs.writeFileSync(file, 'just text, no #! line\n', { mode: 0o755 });
    const err = await spawnInPidNamespace(file, [], { init }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ENOEXEC', syscall: 'execve', path: file });
    expect(err.message).toMatch(/#! line/);
  });

  test('ENOENT for a cwd that does not exist names chdir', async () => {
    await expect(spawnInPidNamespace('true', [], { init: false, cwd: '/nonexistent-dir' })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'chdir', path: '/nonexistent-dir' });
  });

  test('EINVAL for a join target that is not a PID namespace', async () => {
    await expect(spawnInPidNamespace('true', [], { join: '/proc/self/ns/net' })).rejects.toMatchObject({ code: 'EINVAL', syscall: 'setns' });
    await expect(spawnInPidNamespace('true', [], { join: '/etc/passwd' })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(spawnInPidNamespace('true', [], { join: '/dev/null' })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  test('a FIFO as join target is refused without blocking', async () => {
    const fifo = `/tmp/pidns-fifo-${process.pid}`;
    require('child_process').execFileSync('mkfifo', [fifo]);
    try {
      await expect(spawnInPidNamespace('true', [], { join: fifo })).rejects.toMatchObject({ code: 'EINVAL' });
    } finally {
      fs.unlinkSync(fifo);
    }
  });

  test('ESRCH for a pid that does not exist, ENOENT for a missing path', async () => {
    await expect(spawnInPidNamespace('true', [], { join: 4194303 })).rejects.toMatchObject({ code: 'ESRCH', errno: -3 });
    await expect(spawnInPidNamespace('true', [], { join: '/nonexistent/ns/pid' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('joining a namespace whose pid 1 has died says the namespace has ended', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    const held = fs.openSync(`/proc/${pid1.pid}/ns/pid`, 'r');
    try {
      pid1.kill('SIGKILL');
      await pid1.exited;
      const err = await spawnInPidNamespace('true', [], { join: `/proc/self/fd/${held}` }).catch((e) => e);
      expect(err).toMatchObject({ code: 'ERR_NAMESPACE_ENDED', errno: -12, syscall: 'clone' });
      expect(err.message).toMatch(/namespace has ended/);
    } finally {
      fs.closeSync(held);
    }
  });
});

describeAsRoot('without privileges', () => {
  test('EPERM as nobody, with a hint to use root or a user namespace', () => {
    for (const init of [true, false]) {
      const run = runFixture('spawn-report.js', [JSON.stringify(['true', [], { init }])], { asNobody: true });
      expect(run.status).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(report.error).toMatchObject({ code: 'EPERM', errno: -1, syscall: 'clone' });
      expect(report.error.message).toMatch(/run as root, or pass userNamespace: true/);
      expect(report.error.message).toMatch(/in a container, root needs CAP_SYS_ADMIN and a seccomp profile that allows clone, unshare and setns/);
    }
  });

  test('EPERM as nobody when joining (setns needs CAP_SYS_ADMIN even for its own namespace)', () => {
    const run = runFixture('spawn-report.js', [JSON.stringify(['true', [], { join: '/proc/self/ns/pid' }])], { asNobody: true });
    const report = JSON.parse(run.stdout);
    expect(report.error).toMatchObject({ code: 'EPERM', syscall: 'setns' });
  });

  test("EACCES as nobody for another user's namespace", () => {
    const run = runFixture('spawn-report.js', [JSON.stringify(['true', [], { join: 1 }])], { asNobody: true });
    const report = JSON.parse(run.stdout);
    expect(report.error).toMatchObject({ code: 'EACCES' });
    expect(report.error.message).toMatch(/needs root/);
  });
});
