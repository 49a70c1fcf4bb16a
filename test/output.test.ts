// Output nobody reads, 'close' and `closed`, and disposal: what the streams deliver and what the
// Node process holds afterwards (/proc/self/fd).
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild, type SpawnOptions } from '../lib';
import { exists, ownDescriptorCount, readAll } from './kernel';
import { describeAsRoot } from './root';

const modes: [string, SpawnOptions][] = [
  ['under the init', {}],
  ['as pid 1', { init: false }],
  ['with userNamespace', { userNamespace: true }],
  ['with userNamespace and mountProc', { userNamespace: true, mountProc: true }],
];

/** Every descriptor a spawn opens lazily once (libuv's, Node's) is open after this. */
async function warmUp(): Promise<void> {
  for (const init of [true, false]) {
    const child = await spawnInPidNamespace('true', [], { init });
    await readAll(child.stdout);
    await child.closed;
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describeAsRoot('output nobody reads', () => {
  test("'close' and closed come for unread pipes, and their descriptors are closed", async () => {
    await warmUp();
    const before = ownDescriptorCount();
    const children = [];
    for (let i = 0; i < 20; i++) {
      const child = await spawnInPidNamespace('sh', ['-c', 'seq 1 2000; seq 1 500 >&2'], { init: i % 2 === 0 });
      children.push({ child, close: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))) });
    }
    for (const { child, close } of children) {
      await expect(close).resolves.toMatchObject({ code: 0, signal: null });
      await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
      expect(child.stdout!.destroyed && child.stderr!.destroyed).toBe(true);
    }
    expect(ownDescriptorCount()).toBe(before);
  });

  test('2,000 spawns alternating unread pipes and ignore leave the descriptor count where it began', async () => {
    await warmUp();
    const before = ownDescriptorCount();
    let closes = 0;
    for (let i = 0; i < 2000; i++) {
      const child = await spawnInPidNamespace('sh', ['-c', 'echo out; echo err >&2'], { stdio: i % 2 === 0 ? 'pipe' : 'ignore', init: i % 4 < 2 });
      child.once('close', () => closes++);
      await child.exited;
    }
    const last = await spawnInPidNamespace('true', [], { stdio: 'ignore' });
    await last.closed;
    // Each 'close' is due once its streams have ended; the last ones may still be draining.
    while (closes < 2000) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ownDescriptorCount()).toBe(before);
  }, 180000);

  test.each(modes)('a reader attached after `await exited` gets all of the output (%s, 100 runs)', async (_name, options) => {
    const expected = Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join('');
    for (let run = 0; run < 100; run++) {
      const child = await spawnInPidNamespace('seq', ['1', '1000'], options);
      await child.exited;
      expect(await readAll(child.stdout)).toBe(expected);
      await child.closed;
    }
  }, 120000);

  test.each(modes)('a reader attached at once has all of the output once closed resolves (%s, 100 runs)', async (_name, options) => {
    for (let run = 0; run < 100; run++) {
      const child = await spawnInPidNamespace('sh', ['-c', 'echo out; echo err >&2'], options);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (err += d));
      await child.closed;
      expect([out, err]).toEqual(['out\n', 'err\n']);
    }
  }, 120000);

  test('a stream paused on purpose is left to its reader', async () => {
    const child = await spawnInPidNamespace('seq', ['1', '100']);
    child.stdout!.pause();
    await child.exited;
    await nextTurn();
    await nextTurn();
    expect(child.stdout!.destroyed).toBe(false);
    expect(await readAll(child.stdout)).toBe(Array.from({ length: 100 }, (_, i) => `${i + 1}\n`).join(''));
    await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
  });
});

describeAsRoot('closed', () => {
  test('resolves with the status of exited: an exit code, or the signal of a kill', async () => {
    const exits = await spawnInPidNamespace('sh', ['-c', 'exit 7']);
    await expect(exits.closed).resolves.toEqual(await exits.exited);
    expect(await exits.closed).toMatchObject({ code: 7, signal: null });

    for (const init of [true, false]) {
      const killed = await spawnInPidNamespace('sleep', ['30'], { init });
      killed.kill('SIGKILL');
      await expect(killed.closed).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
      expect(exists(killed.pid)).toBe(false);
    }
  });

  test('waits for output a joined command left to a background process', async () => {
    const holder = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    try {
      const child = await spawnInPidNamespace('sh', ['-c', 'echo first; (sleep 0.3; echo last) & exit 0'], { join: holder.pid });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      await child.exited;
      await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
      expect(out).toBe('first\nlast\n');
    } finally {
      holder.kill('SIGKILL');
      await holder.exited;
    }
  });
});

describeAsRoot('Symbol.asyncDispose', () => {
  test('`await using` kills the command when the scope throws, and nothing is left', async () => {
    await warmUp();
    const before = ownDescriptorCount();
    let pid = 0;
    let child: PidNamespaceChild | undefined;
    await expect(
      (async () => {
        await using disposed = await spawnInPidNamespace('sleep', ['30']);
        child = disposed;
        pid = disposed.pid;
        throw new Error('test failed');
      })(),
    ).rejects.toThrow('test failed');
    expect(exists(pid)).toBe(false);
    expect(child!.signalCode).toBe('SIGTERM');
    expect(ownDescriptorCount()).toBe(before);
  });

  test('uses killSignal, for a command that ignores SIGTERM (pid 1 without a handler)', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { killSignal: 'SIGKILL', init: false });
    await child[Symbol.asyncDispose]();
    expect(child.signalCode).toBe('SIGKILL');
    expect(exists(child.pid)).toBe(false);
  });

  test('of a command that has exited: resolves without signalling', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'echo done']);
    await child.exited;
    await child[Symbol.asyncDispose]();
    expect(child.killed).toBe(false);
    expect(child.exitCode).toBe(0);
  });

  test('a pod member is disposed of like any child', async () => {
    await using pod = await PidNamespace.create();
    {
      await using member = await pod.spawn('sleep', ['30']);
      expect(member.nsPid).toBe(2);
    }
    expect(pod.processes().map((p) => p.nsPid)).toEqual([1]);
  });
});
