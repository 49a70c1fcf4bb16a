// Bad arguments reject with TypeError/RangeError before anything is spawned.
import { forkInPidNamespace, spawnInPidNamespace } from '../lib';
import { childrenOfSelf, ownDescriptorCount } from './kernel';
import { describeAsRoot } from './root';

type Case = [string, unknown, unknown, unknown, string, string];

/** An array of `length` with nothing in it but `entries` at their indices: holes elsewhere. */
function sparse(length: number, entries: Record<number, unknown> = {}): unknown[] {
  const array: unknown[] = [];
  array.length = length;
  for (const [i, value] of Object.entries(entries)) array[Number(i)] = value;
  return array;
}
/** The longest an array can be: walking its holes one by one would hold the loop for minutes. */
const HUGE = 2 ** 32 - 1;

const cases: Case[] = [
  ['command not a string', 42, [], {}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['command undefined', undefined, [], {}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['command empty', '', [], {}, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['command with NUL', 'tr\u0000ue', [], {}, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['args not an array', 'true', 'x', {}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['args with a number', 'true', ['a', 1], {}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['args with NUL', 'true', ['a\u0000b'], {}, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['options not an object', 'true', [], 'x', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['init not boolean', 'true', [], { init: 'yes' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['init with join', 'true', [], { init: true, join: 1 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['stdio bad string', 'true', [], { stdio: 'pipes' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['stdio bad entry', 'true', [], { stdio: ['pipe', {}, 'pipe'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['stdio negative fd', 'true', [], { stdio: ['pipe', -1, 'pipe'] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['stdio too long', 'true', [], { stdio: new Array(2000).fill('ignore') }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['env not an object', 'true', [], { env: 'PATH=/bin' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['env value not a string', 'true', [], { env: { A: 1 } }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['env value with NUL', 'true', [], { env: { A: 'x\u0000y' } }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['env name with =', 'true', [], { env: { 'A=B': 'x' } }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['cwd not a string', 'true', [], { cwd: 5 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['cwd with NUL', 'true', [], { cwd: '/tmp\u0000' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['argv0 not a string', 'true', [], { argv0: [] }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['uid negative', 'true', [], { uid: -1 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['uid fractional', 'true', [], { uid: 1.5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['gid NaN', 'true', [], { gid: NaN }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['gid string', 'true', [], { gid: '0' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['join negative pid', 'true', [], { join: -5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['join zero', 'true', [], { join: 0 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['join huge pid', 'true', [], { join: 2 ** 40 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['join boolean', 'true', [], { join: true }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['join empty path', 'true', [], { join: '' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['timeout negative', 'true', [], { timeout: -1 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['timeout Infinity', 'true', [], { timeout: Infinity }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['killSignal unknown', 'true', [], { killSignal: 'SIGNOPE' }, 'TypeError', 'ERR_UNKNOWN_SIGNAL'],
  ['killSignal object', 'true', [], { killSignal: {} }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['signal not an AbortSignal', 'true', [], { signal: {} }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['dieWithParent not boolean', 'true', [], { dieWithParent: 1 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['signalGroup not boolean', 'true', [], { signalGroup: 'no' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['noNewPrivileges not boolean', 'true', [], { noNewPrivileges: 'yes' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['mountProc not boolean', 'true', [], { mountProc: 1 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['userNamespace not an object', 'true', [], { userNamespace: 'yes' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['userNamespace map entry out of range', 'true', [], { userNamespace: { uidMap: [{ containerId: -1, hostId: 0, size: 1 }] } }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['userNamespace with join', 'true', [], { userNamespace: true, join: 1 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['teardownGraceMs negative', 'true', [], { teardownGraceMs: -3 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  // Holes are read as what they are (undefined), not skipped; lengths are bounded before a walk.
  ['args with a hole', 'true', sparse(2, { 1: 'x' }), {}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['args of length 2^32-1', 'true', sparse(HUGE, { [HUGE - 1]: 'x' }), {}, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['stdio of length 2^32-1', 'true', [], { stdio: sparse(HUGE) }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['namespaces with a hole', 'true', [], { namespaces: sparse(2, { 1: 'net' }) }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['namespaces of length 2^32-1', 'true', [], { namespaces: sparse(HUGE, { 0: 'net' }) }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['joinNamespaces with a hole', 'true', [], { join: 1, joinNamespaces: sparse(2, { 1: 'net' }) }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
  ['joinNamespaces of length 2^32-1', 'true', [], { join: 1, joinNamespaces: sparse(HUGE, { 0: 'net' }) }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['userNamespace map with a hole', 'true', [], { userNamespace: { uidMap: sparse(2, { 1: { containerId: 0, hostId: 0, size: 1 } }) } }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
];

const forkCases: [string, unknown, unknown, string, string][] = [
  ['execArgv with a hole', sparse(2, { 1: '--no-warnings' }), undefined, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['execArgv of length 2^32-1', sparse(HUGE), undefined, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ['stdio of length 2^32-1', undefined, sparse(HUGE, { 0: 'ipc' }), 'RangeError', 'ERR_OUT_OF_RANGE'],
];

describe('argument validation', () => {
  const fdsBefore = ownDescriptorCount();

  test.each(cases)('%s', async (_name, command, args, options, errorName, code) => {
    const call = spawnInPidNamespace(command as string, args as string[], options as object);
    const err = await call.catch((e) => e);
    expect(err).toBeInstanceOf(errorName === 'TypeError' ? TypeError : RangeError);
    expect(err.code).toBe(code);
    expect(childrenOfSelf()).toEqual([]);
  });

  test.each(forkCases)('forkInPidNamespace: %s', async (_name, execArgv, stdio, errorName, code) => {
    const err = await forkInPidNamespace('/dev/null', [], { execArgv, stdio } as object).catch((e) => e);
    expect(err).toBeInstanceOf(errorName === 'TypeError' ? TypeError : RangeError);
    expect(err.code).toBe(code);
    expect(childrenOfSelf()).toEqual([]);
  });

  test('nothing was spawned and no descriptor was opened', () => {
    expect(childrenOfSelf()).toEqual([]);
    expect(ownDescriptorCount()).toBe(fdsBefore);
  });
});

describeAsRoot('signal names', () => {
  test('kill() with an unknown signal throws ERR_UNKNOWN_SIGNAL', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    expect(() => child.kill('SIGFOO' as NodeJS.Signals)).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_SIGNAL' }));
    child.kill('SIGKILL');
    await child.exited;
  });
});
