// Exit watching: a pidfd on Node's loop where the kernel has them, else the SIGCHLD fallback
// (forced with PIDNS_NO_PIDFD=1; the whole suite runs in both modes).
import { spawnInPidNamespace } from '../lib';
import { usePidfd } from '../lib/native';
import { childrenOfSelf, descriptors } from './kernel';
import { describeAsRoot } from './root';

const fallbackForced = Boolean(process.env.PIDNS_NO_PIDFD);

describeAsRoot(`exit watching (${fallbackForced ? 'SIGCHLD fallback' : 'pidfd'})`, () => {
  test('the mode follows PIDNS_NO_PIDFD', () => {
    expect(usePidfd).toBe(!fallbackForced);
  });

  test.each([false, true])('Node holds a pidfd per running child only in pidfd mode (init: %s)', async (init) => {
    const pidfds = () => descriptors('self').filter((d) => d.endsWith('anon_inode:[pidfd]')).length;
    const before = pidfds();
    const child = await spawnInPidNamespace('sleep', ['30'], { init, stdio: 'ignore' });
    // Under the init: one for the init (exit) and one for the command (signals).
    expect(pidfds() - before).toBe(fallbackForced ? 0 : init ? 2 : 1);
    child.kill('SIGKILL');
    await child.exited;
    expect(pidfds()).toBe(before);
  });

  test('many children exiting at once are each reaped with their own status', async () => {
    const children = await Promise.all(
      Array.from({ length: 40 }, (_, i) => spawnInPidNamespace('sh', ['-c', `sleep 0.2; exit ${i}`], { init: i % 2 === 0, stdio: 'ignore' })),
    );
    const results = await Promise.all(children.map((c) => c.exited));
    expect(results.map((r) => r.code)).toEqual(children.map((_, i) => i));
    expect(childrenOfSelf()).toEqual([]);
  });

  test('children of child_process are left to Node (no waitpid(-1))', async () => {
    const { spawn } = await import('child_process');
    const plain = spawn('sh', ['-c', 'exit 9']);
    const plainExit = new Promise((r) => plain.once('exit', r));
    const ours = await spawnInPidNamespace('sh', ['-c', 'exit 4'], { stdio: 'ignore' });
    const [plainCode] = await Promise.all([plainExit, ours.exited]);
    expect(plainCode).toBe(9);
    expect(ours.exitCode).toBe(4);
  });
});
