// What arrives on an init's control socket: only records of the protocol's size and types are
// taken, a descriptor rides only on the command's own first report, and the init's reports of a
// flood of stops never crowd out the exact status. Also the options object read by the addon
// once, whatever its getters do.
import * as fs from 'fs';
import { spawnInPidNamespace } from '../lib';
import { isFailure, native } from '../lib/native';
import { MSG_EMPTY, MSG_EXITED } from '../lib/protocol';
import { ownDescriptorCount } from './kernel';
import { describeAsRoot } from './root';
import { buildFixture, removeBuiltFixture } from './subprocess';

/** A record as src-native/protocol.h lays it out: u32 type, i32 value, i64 amount. */
function record(type: number, value: number, size = 16): Buffer {
  const buffer = Buffer.alloc(size);
  buffer.writeUInt32LE(type, 0);
  buffer.writeInt32LE(value, 4);
  return buffer;
}

describe('the Node end of a control channel', () => {
  test('a record longer than the protocol\'s and a record of type 0 are dropped; the next real one is delivered', async () => {
    const pair = native.controlPair();
    if (isFailure(pair)) throw new Error(`socketpair: ${pair.errno}`);
    const [nodeFd, initFd] = pair;
    const seen: number[][] = [];
    const done = new Promise<void>((resolve) => {
      new native.ControlChannel(nodeFd, (type, value) => {
        seen.push([type, value]);
        if (type === 0) resolve();
      });
    });
    fs.writeSync(initFd, record(MSG_EXITED, 42 << 8, 64));
    fs.writeSync(initFd, record(0, 0));
    fs.writeSync(initFd, record(MSG_EMPTY, 7));
    await new Promise((r) => setTimeout(r, 50));
    native.closeFd(initFd);
    await done;
    expect(seen).toEqual([[MSG_EMPTY, 7], [0, 0]]);
  });
});

describe('the addon reads its options once', () => {
  test('a throwing getter\'s error comes back as it is, and Node goes on', () => {
    const options = {
      file: '/bin/true', argv: ['true'], envp: [], cwd: null, gid: -1, fdMap: [0, 1, 2],
      newPidNamespace: false, joinFd: -1, joinUserFd: -1, pdeathsig: 0, parentPid: 0, usePidfd: false, warmNetwork: false,
      mountProc: false, noNewPrivileges: false, foreground: false, terminal: false, newUserNamespace: false,
      uidMap: '', gidMap: '', denySetgroups: false, cgroupFd: -1,
      get uid(): number {
        throw new Error('from a getter');
      },
    };
    let thrown: unknown;
    try {
      native.spawn(options as never, () => {
        throw new Error('a request whose getter throws was spawned');
      });
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).toBe('from a getter');
  });
});

describe('stdio as a Proxy', () => {
  test('a length that grows after it was checked is not read again: RangeError, nothing opened', async () => {
    const before = ownDescriptorCount();
    let asked = 0;
    const stdio = new Proxy(['ignore'], {
      get(target, key, receiver) {
        if (key === 'length') return asked++ === 0 ? 1025 : 1;
        return Reflect.get(target, key, receiver);
      },
    });
    await expect(spawnInPidNamespace('/bin/true', [], { stdio: stdio as never })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(ownDescriptorCount()).toBe(before);
  });
});

describeAsRoot('the init\'s reports under a flood of stops', () => {
  let stopFlood: string;
  beforeAll(() => {
    stopFlood = buildFixture('stop-flood');
  });
  afterAll(() => removeBuiltFixture(stopFlood));

  test('2,000 stops while Node\'s loop is busy: exited still says SIGTERM, not 143', async () => {
    const child = await spawnInPidNamespace(stopFlood, ['2000'], { uid: 65534, gid: 65534, stdio: 'ignore' });
    const busyUntil = Date.now() + 1500;
    while (Date.now() < busyUntil) {
      // the loop is busy, as with a large synchronous parse
    }
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGTERM' });
  });
});
