// A command as pid 1 of a new PID namespace (init: false): pids, namespace, status, streams.
import { spawnInPidNamespace } from '../lib';
import * as fs from 'fs';
import { collect, eventually, exists, namespaceInode, nsPidLine, status } from './kernel';
import { describeAsRoot } from './root';

describeAsRoot('spawn into a new PID namespace without the init', () => {
  test('pid and nsPid are the kernel NSpid line; the namespace is new', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    try {
      expect(nsPidLine(child.pid)).toEqual([child.pid, 1]);
      expect(child.nsPid).toBe(1);
      expect(child.init).toBeNull();
      expect(child.namespaceId).toBe(namespaceInode(child.pid));
      expect(child.namespaceId).not.toBe(namespaceInode('self'));
      expect(Number(status(child.pid).get('PPid'))).toBe(process.pid);
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test('resolves after exec: /proc shows the command, not Node', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    // Past the point of no return of execve the image is the command's; the name follows within
    // the same system call.
    expect(await eventually(() => status(child.pid).get('Name') === 'sleep', 1000)).toBe(true);
    expect(fs.readlinkSync(`/proc/${child.pid}/exe`)).toBe(fs.realpathSync('/usr/bin/sleep'));
    child.kill('SIGKILL');
    await child.exited;
  });

  test('exit codes come back exactly', async () => {
    for (const code of [0, 1, 3, 127, 255]) {
      const child = await spawnInPidNamespace('sh', ['-c', `exit ${code}`], { init: false, stdio: 'ignore' });
      await expect(child.exited).resolves.toMatchObject({ code, signal: null });
      expect(child.exitCode).toBe(code);
      expect(child.signalCode).toBeNull();
    }
  });

  test('death by a signal is reported as the signal, with the exit event', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    const exitEvent = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    expect(child.kill('SIGKILL')).toBe(true);
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    await expect(exitEvent).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(child.signalCode).toBe('SIGKILL');
    expect(child.kill('SIGKILL')).toBe(false);
    expect(exists(child.pid)).toBe(false);
  });

  test('pid 1 without a handler ignores SIGTERM from outside (why the init exists)', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    expect(child.kill('SIGTERM')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(status(child.pid).get('State')!.charAt(0)).toBe('S');
    child.kill('SIGKILL');
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  test('stdin and stdout are pipes', async () => {
    const child = await spawnInPidNamespace('tr', ['a-z', 'A-Z'], { init: false });
    const out = collect(child.stdout);
    child.stdin!.end('hello namespace\n');
    expect(await out).toBe('HELLO NAMESPACE\n');
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
  });

  test('stderr is a separate pipe and close follows exit', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'echo out; echo err >&2'], { init: false });
    const [out, err] = await Promise.all([collect(child.stdout), collect(child.stderr)]);
    expect(out).toBe('out\n');
    expect(err).toBe('err\n');
    await new Promise((resolve) => child.once('close', resolve));
  });

  test('env, cwd and argv0 work as in child_process', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'echo "$FOO|$(pwd)|$0"; echo "${HOME:-unset}"'], {
      init: false,
      env: { FOO: 'bar', PATH: process.env.PATH },
      cwd: '/tmp',
      argv0: 'custom-name',
    });
    expect(await collect(child.stdout)).toBe('bar|/tmp|custom-name\nunset\n');
  });

  test('uid and gid are applied, supplementary groups dropped', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore', uid: 65534, gid: 65534 });
    const s = status(child.pid);
    expect(s.get('Uid')!.split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(s.get('Gid')!.split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(s.get('Groups')).toBe('');
    child.kill('SIGKILL');
    await child.exited;
  });

  test('the largest uid and gid (2^32 - 2) are applied, not truncated', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore', uid: 4294967294, gid: 4294967294 });
    expect(status(child.pid).get('Uid')!.split(/\s+/)[0]).toBe('4294967294');
    expect(status(child.pid).get('Gid')!.split(/\s+/)[0]).toBe('4294967294');
    child.kill('SIGKILL');
    await child.exited;
  });

  test.each([false, true])('noNewPrivileges sets no_new_privs for the command, and only when asked (init: %s)', async (init) => {
    const plain = await spawnInPidNamespace('sleep', ['30'], { init, stdio: 'ignore' });
    const locked = await spawnInPidNamespace('sleep', ['30'], { init, stdio: 'ignore', noNewPrivileges: true });
    expect(status(plain.pid).get('NoNewPrivs')).toBe('0');
    expect(status(locked.pid).get('NoNewPrivs')).toBe('1');
    if (init) expect(status(locked.init!.pid).get('NoNewPrivs')).toBe('1');
    for (const c of [plain, locked]) {
      c.kill('SIGKILL');
      await c.exited;
    }
  });

  test('stdio inherit and ignore, and an explicit descriptor', async () => {
    const fs = await import('fs');
    const path = `/tmp/pidns-stdio-${process.pid}`;
    const fd = fs.openSync(path, 'w');
    try {
      const child = await spawnInPidNamespace('sh', ['-c', 'echo to-file; echo to-fd3 >&3'], { init: false, stdio: ['ignore', fd, 'inherit', fd] });
      expect(child.stdout).toBeNull();
      expect(child.stdin).toBeNull();
      await child.exited;
      expect(fs.readFileSync(path, 'utf8')).toBe('to-file\nto-fd3\n');
    } finally {
      fs.closeSync(fd);
      fs.unlinkSync(path);
    }
  });

  test('the event loop keeps running while a child sleeps', async () => {
    const child = await spawnInPidNamespace('sleep', ['0.5'], { init: false, stdio: 'ignore' });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await child.exited;
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(10); // about 50 when idle; a blocked loop would give 0 or 1
  });

  test('timeout and AbortSignal send killSignal', async () => {
    const timed = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore', timeout: 100, killSignal: 'SIGKILL' });
    await expect(timed.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    const controller = new AbortController();
    const aborted = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore', signal: controller.signal, killSignal: 'SIGKILL' });
    controller.abort();
    await expect(aborted.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    controller.abort();
    await expect(spawnInPidNamespace('true', [], { init: false, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
