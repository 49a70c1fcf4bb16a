// forkInPidNamespace() and the 'ipc' stdio entry: Node's own IPC formats between this process and
// a plain Node command in a PID namespace, asserted from what the command reports, from /proc and
// from the descriptors this process holds.
import { once } from 'events';
import * as fs from 'fs';
import * as net from 'net';
import { forkInPidNamespace, PidNamespace, spawnInPidNamespace, type ForkOptions, type PidNamespaceChild } from '../lib';
import { descriptors, eventually, exists, nsPidLine, ownDescriptorCount, running } from './kernel';
import { describeAsRoot } from './root';
import { fixture, runFixture } from './subprocess';

const peer = fixture('ipc-peer.js');
const quiet: ForkOptions = { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] };

/** The first message: what the command saw of itself. */
function hello(child: PidNamespaceChild): Promise<{ pid: number; connected: boolean; channelFd: string | null }> {
  return once(child, 'message').then(([message]) => message);
}

function nextMessage(child: PidNamespaceChild): Promise<unknown> {
  return once(child, 'message').then(([message]) => message);
}

async function warmUp(): Promise<void> {
  for (const init of [true, false]) {
    const child = await forkInPidNamespace(peer, ['echo'], { ...quiet, init });
    await hello(child);
    child.disconnect();
    await child.closed;
  }
}

describeAsRoot('forkInPidNamespace', () => {
  test.each([
    ['under the init', {}, 2],
    ['as pid 1', { init: false }, 1],
    ['with userNamespace and mountProc', { userNamespace: true, mountProc: true }, 2],
  ] as [string, ForkOptions, number][])('process.send and process.pid work in the child (%s)', async (_name, options, nsPid) => {
    await using child = await forkInPidNamespace(peer, ['echo'], { ...quiet, ...options });
    expect(child.connected).toBe(true);
    expect(await hello(child)).toEqual({ pid: nsPid, connected: true, channelFd: null });
    expect(child.nsPid).toBe(nsPid);
    expect(nsPidLine(child.pid)).toEqual([child.pid, nsPid]);
    expect(child.send({ text: 'hi', list: [1, 'two', null] })).toBe(true);
    expect(await nextMessage(child)).toEqual({ echo: { text: 'hi', list: [1, 'two', null] } });
    child.disconnect();
    expect(child.connected).toBe(false);
    await once(child, 'disconnect');
    await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
  });

  test("serialization 'advanced' carries what v8's serializer does, as under fork()", async () => {
    await using child = await forkInPidNamespace(peer, ['echo'], { ...quiet, serialization: 'advanced' });
    await hello(child);
    const value = {
      buffer: Buffer.from([0, 1, 254, 255]),
      bytes: new Uint16Array([1, 65535]),
      map: new Map<unknown, unknown>([['a', 1], [2, { b: [3] }]]),
      set: new Set(['x', 'y']),
      big: 2n ** 70n,
      date: new Date(86400000),
      nothing: undefined,
      nested: { deep: [null, -0, Infinity] },
    };
    child.send(value);
    const { echo } = (await nextMessage(child)) as { echo: typeof value };
    expect(echo).toEqual(value);
    expect(Buffer.from(echo.buffer).equals(value.buffer)).toBe(true);
    expect(echo.big).toBe(2n ** 70n);
    child.disconnect();
    await child.closed;
  });

  test.each(['json', 'advanced'] as const)('10,000 messages each way arrive in order (%s)', async (serialization) => {
    const count = 10000;
    await using child = await forkInPidNamespace(peer, ['burst', String(count)], { ...quiet, serialization });
    const received: number[] = [];
    const report = new Promise((resolve) => {
      child.on('message', (message: { i?: number; received?: number }) => {
        if (typeof message.i === 'number') received.push(message.i);
        else if (message.received !== undefined) resolve(message);
      });
    });
    let written = 0;
    for (let i = 0; i < count; i++) child.send({ i }, (err) => err === null && written++);
    await expect(report).resolves.toEqual({ received: count, inOrder: true });
    expect(written).toBe(count);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
    child.disconnect();
    await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
  }, 60000);

  test('a disconnect from the parent reaches the child, and no descriptor is left', async () => {
    await warmUp();
    const before = ownDescriptorCount();
    await using child = await forkInPidNamespace(peer, ['echo'], quiet);
    await hello(child);
    expect(ownDescriptorCount()).toBeGreaterThan(before);
    const disconnected = once(child, 'disconnect');
    child.disconnect();
    await disconnected;
    // The child exits 0 on its own 'disconnect'.
    await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
    expect(ownDescriptorCount()).toBe(before);
  });

  test.each([
    ['under the init', {}],
    ['as pid 1', { init: false }],
  ] as [string, ForkOptions][])('a disconnect from the child reaches the parent while the child runs on (%s)', async (_name, options) => {
    await warmUp();
    const before = ownDescriptorCount();
    await using child = await forkInPidNamespace(peer, ['leave'], { ...quiet, ...options });
    await once(child, 'disconnect');
    expect(child.connected).toBe(false);
    expect(running(child.pid)).toBe(true);
    // Above stderr (ours, which may be a socket too) the init holds its control channel and no
    // copy of the IPC channel.
    const initSockets = () => descriptors(child.init!.pid).filter((d) => Number(d.split(' ')[0]) > 2 && d.includes('socket:'));
    if (child.init) expect(initSockets()).toHaveLength(1);
    child.kill('SIGKILL');
    await child.closed;
    expect(ownDescriptorCount()).toBe(before);
  });

  test('the child exiting while messages are in flight: every send settles, nothing crashes or stays', async () => {
    await warmUp();
    const before = ownDescriptorCount();
    await using child = await forkInPidNamespace(peer, ['exit-early'], quiet);
    await hello(child);
    const errors: unknown[] = [];
    child.on('error', (err) => errors.push(err));
    const settled: Promise<Error | null>[] = [];
    for (let i = 0; i < 10000; i++) settled.push(new Promise((resolve) => child.send({ i, padding: 'x'.repeat(100) }, resolve)));
    await once(child, 'disconnect');
    await expect(child.closed).resolves.toMatchObject({ code: 3, signal: null });
    const outcomes = await Promise.all(settled);
    expect(outcomes[0]).toBeNull();
    // Errors from Node's streams come from another realm than jest's: look at their shape.
    expect(outcomes.every((o) => o === null || typeof o.message === 'string')).toBe(true);
    expect(errors).toEqual([]);
    expect(child.send('late', (err) => errors.push(err))).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toMatchObject([{ code: 'ERR_IPC_CHANNEL_CLOSED' }]);
    expect(ownDescriptorCount()).toBe(before);
  }, 60000);

  test('send and disconnect once closed report ERR_IPC_CHANNEL_CLOSED and ERR_IPC_DISCONNECTED', async () => {
    await using child = await forkInPidNamespace(peer, ['echo'], quiet);
    await hello(child);
    child.disconnect();
    const errors: { code: string }[] = [];
    child.on('error', (err: { code: string }) => errors.push(err));
    expect(child.send('after')).toBe(false);
    child.disconnect();
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors.map((e) => e.code).sort()).toEqual(['ERR_IPC_CHANNEL_CLOSED', 'ERR_IPC_DISCONNECTED']);
    await child.closed;

    const plain = await spawnInPidNamespace('true', [], { stdio: 'ignore' });
    expect(plain.connected).toBe(false);
    await expect(new Promise((resolve) => plain.send('x', resolve))).resolves.toMatchObject({ code: 'ERR_IPC_CHANNEL_CLOSED' });
    await plain.closed;
  });

  test('handles and unsendable messages are refused before anything is written', async () => {
    await using child = await forkInPidNamespace(peer, ['echo'], quiet);
    await hello(child);
    const server = net.createServer();
    const socket = new net.Socket();
    for (const handle of [server, socket]) {
      expect(() => child.send('with a handle', handle)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_HANDLE_TYPE' }));
    }
    expect(() => child.send(undefined)).toThrow(expect.objectContaining({ code: 'ERR_MISSING_ARGS' }));
    expect(() => child.send(Symbol('s'))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => child.send('x', null, 'options' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    // Nothing of the above reached the child: the next message is the first it answers.
    child.send('first');
    expect(await nextMessage(child)).toEqual({ echo: 'first' });
    child.disconnect();
    await child.closed;
  });

  test("the channel's stdio entry: fork's rules, and 'ipc' in spawnInPidNamespace", async () => {
    await expect(forkInPidNamespace(peer, [], { stdio: ['pipe', 'pipe', 'pipe'] })).rejects.toMatchObject({ code: 'ERR_CHILD_PROCESS_IPC_REQUIRED' });
    await expect(spawnInPidNamespace(process.execPath, [peer], { stdio: ['pipe', 'ipc', 'pipe', 'ipc'] })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_IPC_ONE_PIPE' });
    await expect(forkInPidNamespace(peer, [], { serialization: 'xml' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(forkInPidNamespace(42 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });

    // The channel at descriptor 5, with pipes for 0-2: the command's stdout is still its own.
    await using child = await spawnInPidNamespace(process.execPath, [peer, 'echo'], { stdio: ['pipe', 'pipe', 'inherit', 'ignore', 'ignore', 'ipc'], env: { ...process.env, NODE_CHANNEL_FD: '9' } });
    expect(await hello(child)).toMatchObject({ connected: true, channelFd: null });
    const fds = descriptors(child.pid);
    expect(fds.find((d) => d.startsWith('5 -> '))).toMatch(/socket:/);
    expect(child.stdio[5]).toBeNull();
    child.disconnect();
    await child.closed;

    await using silent = await forkInPidNamespace(peer, ['echo'], { silent: true, execArgv: [] });
    expect(silent.stdout && silent.stderr && silent.stdin).toBeTruthy();
    await hello(silent);
    silent.disconnect();
    await silent.closed;
  });

  test('a joined command and a pod member talk over the channel with their pid inside', async () => {
    const holder = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    try {
      await using joined = await forkInPidNamespace(peer, ['echo'], { ...quiet, join: holder.pid, init: false });
      expect(await hello(joined)).toMatchObject({ pid: 3 });
      joined.send('ping');
      expect(await nextMessage(joined)).toEqual({ echo: 'ping' });
      joined.disconnect();
      await expect(joined.closed).resolves.toMatchObject({ code: 0, signal: null });
    } finally {
      holder.kill('SIGKILL');
      await holder.exited;
    }

    await using pod = await PidNamespace.create();
    await using member = await pod.spawn(process.execPath, [peer, 'echo'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    expect(await hello(member)).toMatchObject({ pid: 2 });
    member.send(new Map([[1, 2]]));
    expect(await nextMessage(member)).toEqual({ echo: new Map([[1, 2]]) });
    member.disconnect();
    await member.closed;
    expect(exists(member.pid)).toBe(false);
  });

  test('`await using` disconnects and ends a forked child', async () => {
    await warmUp();
    const before = ownDescriptorCount();
    let pid = 0;
    {
      await using child = await forkInPidNamespace(peer, ['leave'], quiet);
      pid = child.pid;
      await once(child, 'disconnect');
    }
    {
      await using child = await forkInPidNamespace(peer, ['echo'], quiet);
      await hello(child);
    }
    expect(exists(pid)).toBe(false);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(ownDescriptorCount()).toBe(before);
  });
});

describeAsRoot('output and IPC without root (as nobody, userNamespace: true)', () => {
  test('runInPidNamespace and forkInPidNamespace work, and leave no descriptor', () => {
    const run = runFixture('ipc-rootless.js', [], { asNobody: true });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report.error).toBeUndefined();
    expect(report.runs).toEqual([
      { nsPid: 2, code: 0, stdout: '2\n0\nin\n' },
      { nsPid: 1, code: 0, stdout: '1\n0\nin\n' },
    ]);
    for (const serialization of ['json', 'advanced']) {
      expect(report.forks).toContainEqual({
        serialization,
        messages: [{ pid: 2, connected: true, channelFd: null }, { echo: { from: 'parent' } }],
        closed: { code: 0, signal: null },
        connected: false,
      });
    }
    expect(report.fdsLeft).toBe(0);
  });
});

describeAsRoot('IPC messages sent before the parent listens', () => {
  test('wait in the channel until a listener is attached, even turns after the fork resolved', async () => {
    await using child = await forkInPidNamespace(peer, ['echo'], quiet);
    // The command's main script (which sends its first message) has run once its main thread
    // waits in epoll, idle.
    const idle = () => fs.readFileSync(`/proc/${child.pid}/wchan`, 'utf8').includes('epoll_wait');
    expect(await eventually(idle, 10000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await hello(child)).toMatchObject({ pid: 2, connected: true });
  });
});
