// options.foreground: from a program in the foreground of a terminal, the command gets the
// terminal while it runs and the program gets it back when the command ends; off by default.
import { spawnInPidNamespace } from '../lib';
import { Terminal } from './pty';
import { eventually, runningMembersOfNamespace } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

const opened: Terminal[] = [];

afterEach(async () => {
  for (const t of opened.splice(0)) {
    const spawned = t.events.find((e) => e.event === 'spawn');
    t.kill();
    if (spawned) expect(await eventually(() => runningMembersOfNamespace(spawned.namespaceId as number).length === 0)).toBe(true);
  }
});

/** Runs fixtures/foreground-report.js on a terminal of its own, typing a line once the command waits. */
async function report(options: Record<string, unknown>) {
  const t = new Terminal([process.execPath, fixture('foreground-report.js'), JSON.stringify(options)]);
  opened.push(t);
  const spawned = await t.event('spawn');
  t.type('a line\n');
  const exit = await t.event('exit');
  expect(await t.ended).toEqual({ code: 0 });
  return { spawned, exit };
}

describeAsRoot('options.foreground', () => {
  test.each([
    [{}],
    [{ signalGroup: true }],
    [{ init: false }],
  ])('true, with %j: the command leads its own group, which has the terminal; then it is ours again', async (options) => {
    const { spawned, exit } = await report({ ...options, foreground: true });
    expect(spawned.pgrp).toBe(spawned.pid);
    expect(spawned.tpgid).toBe(spawned.pid);
    expect(exit.exited).toMatchObject({ code: 0, signal: null });
    expect(exit.tpgid).toBe(exit.pgrp);
  });

  test('false (the default): the command stays in our process group, which keeps the terminal', async () => {
    const { spawned, exit } = await report({});
    expect(spawned.pgrp).toBe(exit.pgrp);
    expect(spawned.tpgid).toBe(exit.pgrp);
  });
});

test('a foreground that is not a boolean is a TypeError before anything is spawned', async () => {
  await expect(spawnInPidNamespace('true', [], { foreground: 'yes' as unknown as boolean })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});
