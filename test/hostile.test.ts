// Hostile input: property tests (fast-check) over every argument and option of
// spawnInPidNamespace() and PidNamespace. Every call must resolve or reject (never throw
// synchronously, crash or hang), a rejection must be typed (TypeError/RangeError with an ERR_
// code, or SystemError-shaped with code, errno and syscall), and no child may be left behind.
// Commands are limited to a directory of harmless programs: random names must never run
// whatever the host happens to have on its PATH.
import { execFileSync } from 'child_process';
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { childrenOfSelf, eventually, namespaceInode, ownDescriptorCount } from './kernel';
import { describeAsRoot } from './root';

const CALL_TIMEOUT_MS = 5000;
const sentinel = new Error('thrown by a getter');

let safeBin: string;
let fifo: string;

beforeAll(async () => {
  // Run alone, jest runs the file in its own process, whose file crawler's children may not have
  // been reaped yet.
  await eventually(() => childrenOfSelf().length === 0, 5000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-hostile-'));
  safeBin = path.join(dir, 'bin');
  fs.mkdirSync(safeBin);
  for (const name of ['true', 'false', 'sleep', 'echo']) {
    const real = ['/usr/bin', '/bin'].map((d) => path.join(d, name)).find((f) => fs.existsSync(f))!;
    fs.symlinkSync(real, path.join(safeBin, name));
  }
  fs.writeFileSync(path.join(safeBin, 'not-executable'), '#!/bin/sh\n');
  fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});

/** A Proxy every trap of which throws (except the one fast-check uses to print it). */
const throwingProxy = new Proxy(
  {},
  {
    get(_target, key) {
      if (key === fc.toStringMethod) return () => 'Proxy(throwing)';
      if (key === fc.cloneMethod || key === 'then') return undefined;
      throw sentinel;
    },
    ownKeys() {
      throw sentinel;
    },
    has(_target, key) {
      if (typeof key === 'symbol') return false; // fast-check asks for its own symbols
      throw sentinel;
    },
  },
);

/** Huge values print as their size in counterexamples. */
function huge<T extends object>(value: T, name: string): T {
  return Object.defineProperty(value, fc.toStringMethod, { value: () => name, enumerable: false });
}

/**
 * An array, or the same entries in a shape the checks must read with care: holes where entries
 * were (forEach and map skip them), a length far past its entries, up to 2^32-1 (walked hole by
 * hole, it would hold the event loop for minutes), or a Proxy whose length grows each time it
 * is read.
 */
function shaped(base: fc.Arbitrary<unknown[]>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: base },
    {
      weight: 1,
      arbitrary: fc.tuple(base, fc.array(fc.nat(6), { minLength: 1, maxLength: 3 })).map(([entries, holes]) => {
        const copy = [...entries];
        for (const i of holes) delete copy[i];
        if (copy.length <= Math.max(...holes)) copy.length = Math.max(...holes) + 1;
        return huge(copy, `holes at ${holes.join(',')} in ${copy.length} entries`);
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(base, fc.constantFrom(7, 65, 1025, 786433, 2 ** 24, 2 ** 32 - 1)).map(([entries, length]) => {
        const copy = [...entries];
        copy.length = Math.max(length, copy.length);
        return huge(copy, `${entries.length} entries, length ${copy.length}`);
      }),
    },
    {
      weight: 1,
      arbitrary: base.map((entries) => {
        let reads = 0;
        const target = huge([...entries], `Proxy(${entries.length} entries, length growing by 1000 a read)`);
        return new Proxy(target, { get: (t, key) => (key === 'length' ? t.length + 1000 * reads++ : Reflect.get(t, key)) });
      }),
    },
  );
}

/** Values of every type that is not what an option wants, and edge values of the right types. */
function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(undefined, null, true, false, 0, -0, -1, 1, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 1e308, NaN, Infinity, -Infinity, 0.5, 10n),
    fc.constantFrom('', '\0', 'a\0b', 'pipe', 'inherit', 'ignore', 'SIGKILL', 'SIGNOPE', '/', '..', '/proc/self/ns/net'),
    fc.string({ maxLength: 20 }),
    fc.constant(Symbol('hostile')),
    fc.constant(() => 1),
    fc.constant([]),
    fc.constant({}),
    fc.constant(throwingProxy),
    fc.constant(Object.create(null)),
    fc.constant(new Date(0)),
    fc.constant(new URL('file:///tmp')),
    fc.constant(new URL('http://example.com/')),
    fc.constant(new AbortController().signal),
    fc.constant(AbortSignal.abort()),
  );
}

const optionNames = ['init', 'join', 'stdio', 'env', 'cwd', 'argv0', 'uid', 'gid', 'signal', 'timeout', 'killSignal', 'dieWithParent', 'signalGroup', 'teardownGraceMs', 'namespaces', 'joinNamespaces'] as const;

/** Right-typed values for each option (many still invalid), so calls get past the type checks. */
function plausible(name: (typeof optionNames)[number]): fc.Arbitrary<unknown> {
  switch (name) {
    case 'init':
    case 'dieWithParent':
    case 'signalGroup':
      return fc.boolean();
    case 'join':
      return fc.oneof(fc.constant(process.pid), fc.constantFrom(0, -1, 0x400001, 2 ** 31), fc.constantFrom('/proc/self/ns/pid', '/proc/self/ns/net', '/dev/null', '/etc/passwd', '/proc', '/nonexistent'));
    case 'stdio':
      return fc.oneof(fc.constantFrom('pipe', 'ignore'), shaped(fc.array(fc.oneof(fc.constantFrom('pipe', 'ignore', null, undefined), fc.constantFrom(0, 1, 2, 999999, -1)), { maxLength: 6 })));
    case 'namespaces':
      return shaped(fc.subarray(['cgroup', 'ipc', 'mnt', 'net', 'time', 'uts']));
    case 'joinNamespaces':
      return fc.oneof(fc.constant('all'), shaped(fc.subarray(['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'], { minLength: 1 })));
    case 'env':
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), hostileValue()), { maxKeys: 4 });
    case 'cwd':
      return fc.constantFrom('/', '/tmp', '/nonexistent', '/etc/passwd', 'relative', '');
    case 'argv0':
      return fc.string({ maxLength: 10 });
    case 'uid':
    case 'gid':
      return fc.oneof(fc.constantFrom(0, 65534, 0xfffffffe, 0xffffffff, -1), fc.integer({ min: 0, max: 70000 }));
    case 'signal':
      return fc.constantFrom(new AbortController().signal, AbortSignal.abort());
    case 'timeout':
    case 'teardownGraceMs':
      return fc.constantFrom(0, 1, 50, -1, 0x7fffffff, 0x80000000, 1.5);
    case 'killSignal':
      return fc.constantFrom('SIGKILL', 'SIGTERM', 9, 0, 65, -1, 'SIGRTMIN+3', 'SIGRTMAX-100', 'kill');
  }
}

function options(): fc.Arbitrary<unknown> {
  const record = fc.record(Object.fromEntries(optionNames.map((n) => [n, fc.oneof({ weight: 3, arbitrary: plausible(n) }, { weight: 1, arbitrary: hostileValue() })])), { requiredKeys: [] });
  return fc.oneof(
    { weight: 8, arbitrary: record },
    { weight: 1, arbitrary: hostileValue() },
    // Options whose getters throw, and a Proxy that lies about its keys.
    { weight: 1, arbitrary: fc.constantFrom(...optionNames).map((n) => Object.defineProperty(huge({}, `{ get ${n}() { throw } }`), n, { enumerable: true, get() { throw sentinel; } })) },
    { weight: 1, arbitrary: fc.constant(new Proxy({}, { get: (_t, key) => (key === 'stdio' ? 'ignore' : key === fc.toStringMethod ? () => 'Proxy(lying)' : undefined), has: () => true, ownKeys: () => ['stdio'], getOwnPropertyDescriptor: () => ({ value: 'ignore', enumerable: true, configurable: true }) })) },
  );
}

function command(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('true', 'false', 'echo', 'sleep') },
    { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map((s) => `pidns-no-such-${s.replace(/\//g, '')}`) },
    { weight: 1, arbitrary: fc.constantFrom('', '\0', 'tr\0ue', 'not-executable', '/nonexistent/x', '.', '/', `pidns-no-such-${'x'.repeat(5000)}`) },
    { weight: 1, arbitrary: hostileValue() },
  );
}

function args(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: shaped(fc.array(fc.oneof(fc.constantFrom('0', '0.01'), fc.string({ maxLength: 16 })), { maxLength: 5 })) },
    { weight: 1, arbitrary: fc.array(hostileValue(), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(['a\0b'], huge(['x'.repeat(200000)], "['x' * 200000]"), huge(Array.from({ length: 200000 }, () => 'y'), "Array(200000).fill('y')")) },
    { weight: 1, arbitrary: hostileValue() },
  );
}

/** The rule every outcome must follow. */
function expectTypedError(err: unknown): void {
  if (err === sentinel) return; // the caller's own getter threw: passed through unchanged
  expect(err).toBeInstanceOf(Error);
  const e = err as NodeJS.ErrnoException & { hint?: string };
  if (e instanceof TypeError || e instanceof RangeError) {
    expect(e.code).toMatch(/^ERR_[A-Z_]+$/);
  } else if (e.name === 'AbortError') {
    expect(e.code).toBe('ABORT_ERR');
  } else {
    expect({ code: typeof e.code, errno: typeof e.errno, syscall: typeof e.syscall }).toMatchObject({ code: 'string', errno: 'number', syscall: 'string' });
    expect(e.errno).toBeLessThan(0);
  }
}

/** Calls fn, which must return a promise; settles it within a time limit; cleans up a child. */
async function settle(fn: () => unknown): Promise<void> {
  let promise: unknown;
  try {
    promise = fn();
  } catch (err) {
    throw new Error(`threw synchronously instead of rejecting: ${String((err as Error)?.message ?? err)}`);
  }
  expect(promise).toBeInstanceOf(Promise);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    (promise as Promise<unknown>).then((value) => ({ value }), (error) => ({ error })),
    new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), CALL_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  expect(outcome).not.toBe('hung');
  const o = outcome as { value?: unknown; error?: unknown };
  if ('error' in o) {
    expectTypedError(o.error);
    return;
  }
  const child = o.value as PidNamespaceChild | PidNamespace | undefined;
  if (child === undefined) return; // close()
  if (child instanceof PidNamespace) {
    await child.close({ graceMs: 0 });
    return;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  child.kill('SIGKILL');
  await child.exited;
  child.stdin?.destroy();
}

async function nothingLeft(fdsBefore: number): Promise<void> {
  expect(await eventually(() => childrenOfSelf().length === 0, 3000)).toBe(true);
  expect(await eventually(() => ownDescriptorCount() <= fdsBefore, 3000)).toBe(true);
}

/** Gives env a PATH of harmless programs when it is a plain object. */
function withSafePath(opts: unknown): unknown {
  try {
    return safePathOf(opts);
  } catch {
    return opts; // a Proxy whose traps throw: the library must cope with it as it is
  }
}

function safePathOf(opts: unknown): unknown {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts) || Object.getPrototypeOf(opts) !== Object.prototype) return opts;
  const o = opts as Record<string, unknown>;
  if (Object.values(Object.getOwnPropertyDescriptors(o)).some((d) => !('value' in d))) return opts;
  if (o.env === undefined) return { ...o, env: { PATH: safeBin } };
  if (typeof o.env === 'object' && o.env !== null && Object.getPrototypeOf(o.env) === Object.prototype) return { ...o, env: { ...(o.env as object), PATH: safeBin } };
  return opts;
}

describeAsRoot('hostile input', () => {
  let fdsBefore: number;
  let savedPath: string | undefined;
  beforeEach(() => {
    fdsBefore = ownDescriptorCount();
    // When env is not a plain object, the lookup falls back to process.env: make that safe too.
    savedPath = process.env.PATH;
    process.env.PATH = safeBin;
  });
  afterEach(async () => {
    process.env.PATH = savedPath;
    await nothingLeft(fdsBefore);
  });

  test('spawnInPidNamespace(command, args, options): typed outcome, no hang, no child left', async () => {
    await fc.assert(
      fc.asyncProperty(command(), args(), options(), async (cmd, argv, opts) => {
        await settle(() => spawnInPidNamespace(cmd as string, argv as string[], withSafePath(opts) as object));
        expect(childrenOfSelf()).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  test('spawnInPidNamespace(command, options) (args left out) and huge environments', async () => {
    await fc.assert(
      fc.asyncProperty(command(), options(), async (cmd, opts) => {
        await settle(() => spawnInPidNamespace(cmd as string, withSafePath(opts) as never));
      }),
      { numRuns: 40 },
    );
    const hugeEnv = Object.fromEntries(Array.from({ length: 50000 }, (_, i) => [`K${i}`, 'v'.repeat(100)]));
    for (const init of [true, false]) {
      await settle(() => spawnInPidNamespace('true', [], { init, env: { ...hugeEnv, PATH: safeBin } }));
      await settle(() => spawnInPidNamespace('true', ['x'.repeat(200000)], { init, env: { PATH: safeBin } }));
    }
  });

  test('200,000 arguments under the init: a typed outcome (spread into a call, they overflow the stack)', async () => {
    const many = Array.from({ length: 200000 }, () => 'y');
    for (const init of [true, false]) await settle(() => spawnInPidNamespace('true', many, { init, stdio: 'ignore', env: { PATH: safeBin } }));
  });

  test('an E2BIG command line is reported as E2BIG, not as a broken installation', async () => {
    for (const init of [true, false]) {
      const err = await spawnInPidNamespace('true', ['x'.repeat(200000)], { init, env: { PATH: safeBin } }).catch((e) => e);
      expect({ init, code: err.code, syscall: err.syscall }).toEqual({ init, code: 'E2BIG', syscall: 'execve' });
      expect(err.message).not.toMatch(/rebuild/);
    }
  });

  test('PidNamespace.create(options), ns.spawn(...) and ns.close(options): typed outcome, no child left', async () => {
    const ns = await PidNamespace.create();
    try {
      await fc.assert(
        fc.asyncProperty(hostileValue(), command(), args(), options(), hostileValue(), async (createOptions, cmd, argv, opts, closeOptions) => {
          await settle(() => PidNamespace.create(createOptions as never));
          await settle(() => ns.spawn(cmd as string, argv as string[], withSafePath(opts) as never));
          const other = await PidNamespace.create();
          await settle(async () => {
            try {
              return await other.close(closeOptions as never);
            } finally {
              await other.close({ graceMs: 0 });
            }
          });
        }),
        { numRuns: 40 },
      );
    } finally {
      await ns.close({ graceMs: 0 });
    }
  });

  test('API that returns a promise never throws synchronously (getters that throw)', async () => {
    const throwing = (key: string) => Object.defineProperty({}, key, { enumerable: true, get() { throw sentinel; } });
    const ns = await PidNamespace.create();
    try {
      await settle(() => PidNamespace.create(throwing('dieWithParent') as never));
      await settle(() => ns.spawn('true', [], throwing('env') as never));
      await settle(() => spawnInPidNamespace('true', [], throwing('stdio') as never));
      const other = await PidNamespace.create();
      await settle(() => other.close(throwing('graceMs') as never));
      await other.close({ graceMs: 0 });
    } finally {
      await ns.close({ graceMs: 0 });
    }
  });

  test('a polluted Object.prototype does not change what a spawn does', async () => {
    const keys = { join: '/proc/self/ns/net', uid: 65534, cwd: '/nonexistent', init: false, stdio: 'bogus', env: { PATH: '/nonexistent' } };
    for (const [key, value] of Object.entries(keys)) {
      Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true });
      try {
        const child = await spawnInPidNamespace('true', [], { env: { PATH: safeBin }, stdio: 'ignore' }).catch((e) => e);
        expect({ key, outcome: child instanceof Error ? (child as NodeJS.ErrnoException).code : 'spawned', init: child instanceof Error ? null : child.init !== null }).toEqual({ key, outcome: 'spawned', init: true });
        if (!(child instanceof Error)) await child.exited;
      } finally {
        delete (Object.prototype as Record<string, unknown>)[key];
      }
    }
  });

  test('join never enters anything but a PID namespace', async () => {
    const dir = path.dirname(fifo);
    const link = path.join(dir, 'link');
    const targets = ['/proc/self/ns/net', '/proc/self/ns/mnt', '/proc/self/ns/user', '/proc/self/ns/pid_for_children', '/proc/self/ns/pid', '/dev/null', '/dev/zero', '/etc/passwd', '/proc', fifo, dir, link, '/proc/self/fd/0', '/proc/1/ns/pid'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), fc.constantFrom(...targets.slice(0, 12)), async (target, linkTo) => {
        fs.rmSync(link, { force: true });
        fs.symlinkSync(linkTo, link);
        const child = await spawnInPidNamespace('true', [], { join: target, stdio: 'ignore', env: { PATH: safeBin } }).catch((e) => e);
        if (child instanceof Error) {
          expectTypedError(child);
          expect(['EINVAL', 'ENOENT', 'ESRCH', 'EACCES', 'ELOOP', 'ENOTDIR', 'ERR_NAMESPACE_ENDED']).toContain((child as NodeJS.ErrnoException).code);
          return;
        }
        // It joined: the target must have been a PID namespace, and the child is in it.
        expect(child.namespaceId).toBe(fs.statSync(target).ino);
        expect([namespaceInode('self')]).toContain(child.namespaceId);
        await child.exited;
      }),
      { numRuns: 60 },
    );
  });

  test('join races: a symlink flipped between a PID namespace and other files never gets something else entered', async () => {
    const link = path.join(path.dirname(fifo), 'flip');
    const others = ['/proc/self/ns/net', fifo, '/dev/null', '/etc/passwd'];
    const own = namespaceInode('self');
    let flips = 0;
    let stop = false;
    const flipper = (async () => {
      while (!stop) {
        const tmp = `${link}.${flips}`;
        fs.symlinkSync(flips % 2 ? others[(flips >> 1) % others.length] : `/proc/${process.pid}/ns/pid`, tmp);
        fs.renameSync(tmp, link);
        flips++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let i = 0; i < 200; i++) {
        const child = await spawnInPidNamespace('true', [], { join: link, stdio: 'ignore', env: { PATH: safeBin } }).catch((e) => e);
        if (child instanceof Error) {
          expect(['EINVAL', 'ENOENT']).toContain((child as NodeJS.ErrnoException).code);
        } else {
          expect(child.namespaceId).toBe(own);
          await child.exited;
        }
      }
    } finally {
      stop = true;
      await flipper;
      fs.rmSync(link, { force: true });
    }
  });
});
