// Bad arguments reject with TypeError/RangeError before anything is spawned.
import { spawnInPidNamespace } from '../lib';
import { childrenOfSelf, ownDescriptorCount } from './kernel';
import { describeAsRoot } from './root';

type Case = [string, unknown, unknown, unknown, string, string];

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
