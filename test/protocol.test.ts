// The numbers shared by C and TypeScript: every enumerator of src-native/protocol.h has its twin
// in lib/protocol.ts with the same value, and the TypeScript side has nothing the header lacks.
import * as fs from 'fs';
import * as path from 'path';
import * as protocol from '../lib/protocol';

const header = fs.readFileSync(path.join(__dirname, '../src-native/protocol.h'), 'utf8');

/** name → value of every enumerator of `enum NAME { ... }` in the header. */
function enumerators(name: string): Map<string, number> {
  const body = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(header);
  if (!body) throw new Error(`enum ${name} not found in protocol.h`);
  const withoutComments = body[1].replace(/\/\*[\s\S]*?\*\//g, '');
  const found = new Map<string, number>();
  for (const [, key, value] of withoutComments.matchAll(/(PIDNS_\w+)\s*=\s*(\d+)/g)) found.set(key, Number(value));
  return found;
}

const tsNumbers = new Map(Object.entries(protocol).filter(([, v]) => typeof v === 'number') as [string, number][]);

describe('lib/protocol.ts and src-native/protocol.h', () => {
  test('message types: same names, same numbers', () => {
    const c = enumerators('pidns_msg_type');
    expect(c.size).toBeGreaterThanOrEqual(10);
    for (const [name, value] of c) expect([name, tsNumbers.get(name.replace(/^PIDNS_/, ''))]).toEqual([name, value]);
  });

  test('exit codes: same names, same numbers', () => {
    const c = enumerators('pidns_exit_code');
    expect(c.size).toBe(4);
    for (const [name, value] of c) expect([name, tsNumbers.get(name.replace(/^PIDNS_/, ''))]).toEqual([name, value]);
  });

  test('start steps: the syscall list is indexed by enum pidns_start_step', () => {
    const c = enumerators('pidns_start_step');
    expect(c.size).toBe(protocol.START_STEP_SYSCALLS.length);
    const expected: Record<string, string> = { EXECVE: 'execve', SETGROUPS: 'setgroups', SETGID: 'setgid', SETUID: 'setuid', CHDIR: 'chdir', TERMINAL: 'ioctl' };
    for (const [name, value] of c) expect([name, protocol.START_STEP_SYSCALLS[value]]).toEqual([name, expected[name.replace(/^PIDNS_START_/, '')]]);
  });

  test('nothing in lib/protocol.ts that the header lacks', () => {
    const all = new Set([...enumerators('pidns_msg_type').keys(), ...enumerators('pidns_exit_code').keys()].map((n) => n.replace(/^PIDNS_/, '')));
    for (const name of tsNumbers.keys()) expect([name, all.has(name)]).toEqual([name, true]);
  });
});
