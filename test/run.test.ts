// runInPidNamespace() and PidNamespace#run(): collected output, input, maxBuffer, timeout, abort,
// failures to start, asserted from what the command reports and from /proc.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, runInPidNamespace, spawnInPidNamespace } from '../lib';
import { childrenOfSelf, eventually, exists } from './kernel';
import { describeAsRoot } from './root';

function scratchFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-run-')), name);
}

describeAsRoot('runInPidNamespace', () => {
  test('resolves for any exit status with both pids, the namespace and the output', async () => {
    const result = await runInPidNamespace('sh', ['-c', 'echo "pid $$"; echo err >&2; exit 3']);
    expect(result).toEqual({
      pid: expect.any(Number),
      nsPid: 2,
      namespaceId: expect.any(Number),
      code: 3,
      signal: null,
      usage: expect.objectContaining({ userCPUTime: expect.any(Number) }),
      stdout: 'pid 2\n',
      stderr: 'err\n',
    });
    // The command and its init have been reaped (namespace inodes are reused: not a test).
    expect(childrenOfSelf()).toEqual([]);

    const killed = await runInPidNamespace('sh', ['-c', 'echo $$; kill -KILL $$']);
    expect(killed).toMatchObject({ nsPid: 2, code: null, signal: 'SIGKILL', stdout: '2\n' });
    const raw = await runInPidNamespace('sh', ['-c', 'echo $$'], { init: false });
    expect(raw).toMatchObject({ nsPid: 1, code: 0, signal: null, stdout: '1\n' });
  });

  test('input is written to stdin, which is then closed; without input stdin is closed at once', async () => {
    const text = 'line one\nline two\n'.repeat(10000);
    expect((await runInPidNamespace('cat', [], { input: text })).stdout).toBe(text);
    expect((await runInPidNamespace('cat')).stdout).toBe('');
    // A command that never reads its input: the write's EPIPE is nobody's problem.
    expect(await runInPidNamespace('true', [], { input: Buffer.alloc(1 << 20) })).toMatchObject({ code: 0, stdout: '' });
  });

  test("binary output comes back exactly with encoding 'buffer'; other encodings decode", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const result = await runInPidNamespace('cat', [], { input: new Uint8Array(bytes), encoding: 'buffer' });
    expect(Buffer.isBuffer(result.stdout) && Buffer.isBuffer(result.stderr)).toBe(true);
    expect(result.stdout.equals(bytes)).toBe(true);
    expect(result.stderr.length).toBe(0);
    expect((await runInPidNamespace('cat', [], { input: bytes, encoding: 'hex' })).stdout).toBe(bytes.toString('hex'));
  });

  test('passing maxBuffer kills the command, and the error carries what was collected', async () => {
    for (const [stream, script] of [['stdout', 'yes'], ['stderr', 'yes >&2']]) {
      const err = await runInPidNamespace('sh', ['-c', script], { maxBuffer: 100000 }).catch((e) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
      expect(err.message).toMatch(new RegExp(`^${stream} maxBuffer length exceeded`));
      expect(err[stream]).toBe('y\n'.repeat(50000));
      expect(err.signalCode).toBe('SIGTERM');
      expect(childrenOfSelf()).toEqual([]);
    }
    const killed = await runInPidNamespace('yes', [], { maxBuffer: 10, killSignal: 'SIGKILL', init: false, encoding: 'buffer' }).catch((e) => e);
    expect(killed.signalCode).toBe('SIGKILL');
    expect(killed.stdout).toEqual(Buffer.from('y\ny\ny\ny\ny\n'));
  });

  test('a timeout rejects with ETIMEDOUT and the output so far; the command is gone', async () => {
    const err = await runInPidNamespace('sh', ['-c', 'echo started; exec sleep 30'], { timeout: 1500 }).catch((e) => e);
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.stdout).toBe('started\n');
    expect(err.stderr).toBe('');
    expect(err.signalCode).toBe('SIGTERM');
    expect(exists(err.pid)).toBe(false);
  });

  test('an abort rejects with ABORT_ERR and the output so far; an aborted signal starts nothing', async () => {
    const marker = scratchFile('ready');
    const controller = new AbortController();
    const run = runInPidNamespace('sh', ['-c', `echo ready; touch ${marker}; exec sleep 30`], { signal: controller.signal });
    expect(await eventually(() => fs.existsSync(marker), 10000)).toBe(true);
    controller.abort();
    const err = await run.catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(err.code).toBe('ABORT_ERR');
    expect(err.stdout).toBe('ready\n');
    expect(err.signalCode).toBe('SIGTERM');
    expect(exists(err.pid)).toBe(false);

    const before = childrenOfSelf().length;
    const early = await runInPidNamespace('sleep', ['30'], { signal: AbortSignal.abort() }).catch((e) => e);
    expect(early).toMatchObject({ code: 'ABORT_ERR', stdout: '', stderr: '' });
    expect(childrenOfSelf().length).toBe(before);
  });

  test('a command that cannot be started rejects as spawnInPidNamespace does, with empty output', async () => {
    const err = await runInPidNamespace('/nonexistent/command').catch((e) => e);
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'execve', stdout: '', stderr: '' });
    const raw = await runInPidNamespace('/nonexistent/command', [], { init: false, encoding: 'buffer' }).catch((e) => e);
    expect(raw.code).toBe('ENOENT');
    expect(raw.stdout).toEqual(Buffer.alloc(0));
  });

  test('bad options are typed errors and nothing is started', async () => {
    const before = childrenOfSelf().length;
    const cases: [object, string][] = [
      [{ input: 42 }, 'ERR_INVALID_ARG_TYPE'],
      [{ input: 'x', stdio: ['ignore', 'pipe', 'pipe'] }, 'ERR_INVALID_ARG_VALUE'],
      [{ encoding: 'utf9' }, 'ERR_INVALID_ARG_VALUE'],
      [{ encoding: 8 }, 'ERR_INVALID_ARG_TYPE'],
      [{ maxBuffer: -1 }, 'ERR_OUT_OF_RANGE'],
      [{ maxBuffer: '1' }, 'ERR_INVALID_ARG_TYPE'],
      [{ stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }, 'ERR_INVALID_ARG_VALUE'],
      [{ terminal: true }, 'ERR_INVALID_ARG_VALUE'],
      [{ timeout: -1 }, 'ERR_OUT_OF_RANGE'],
    ];
    for (const [options, code] of cases) {
      await expect(runInPidNamespace('true', [], options as never)).rejects.toMatchObject({ code });
    }
    expect(childrenOfSelf().length).toBe(before);
  });

  test('a joined command and a pod member run the same way', async () => {
    const holder = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    try {
      const joined = await runInPidNamespace('sh', ['-c', 'echo $$'], { join: holder.pid });
      expect(joined).toMatchObject({ nsPid: 3, namespaceId: holder.namespaceId, code: 0, stdout: '3\n' });
    } finally {
      holder.kill('SIGKILL');
      await holder.exited;
    }

    await using pod = await PidNamespace.create({ mountProc: true });
    // The pod's own /proc, listed by the shell itself (no fork): pid 1 and the shell, pid 2.
    const listing = await pod.run('sh', ['-c', 'cd /proc && echo [0-9]*']);
    expect(listing.stdout).toBe('1 2\n');
    expect(listing.namespaceId).toBe(pod.id);
    const binary = await pod.run('cat', [], { input: Buffer.from([0, 255]), encoding: 'buffer' });
    expect(binary.stdout).toEqual(Buffer.from([0, 255]));
    const err = await pod.run('sleep', ['30'], { timeout: 200 }).catch((e) => e);
    expect(err.code).toBe('ETIMEDOUT');
    await pod.close();
    await expect(pod.run('true')).rejects.toMatchObject({ code: 'ERR_NAMESPACE_ENDED' });
  });
});
