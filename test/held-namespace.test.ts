// HeldNamespace (kernel.ts): tests find a namespace's processes by its inode number, which the
// kernel gives to a new namespace once the old one has ended. A test that kills what it finds
// there must not kill the processes of the test file running beside it.
import { spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { HeldNamespace, running } from './kernel';
import { describeAsRoot } from './root';

describeAsRoot('a namespace held by its inode number', () => {
  test("once it has ended, its number finds no other namespace's processes", async () => {
    const ended = await spawnInPidNamespace('sleep', ['1000'], { stdio: 'ignore' });
    const held = new HeldNamespace(ended.namespaceId, [ended.init!.pid, ended.pid]);
    const bystanders: PidNamespaceChild[] = [];
    try {
      expect(held.members().sort()).toEqual([ended.init!.pid, ended.pid].sort());
      ended.kill('SIGKILL');
      await ended.exited;
      // New namespaces take the lowest free numbers, and an ended one's is freed a moment after
      // its init is reaped: unless held, one of these soon gets it.
      while (bystanders.length < 64 && !bystanders.some((b) => b.namespaceId === ended.namespaceId)) {
        await new Promise((r) => setTimeout(r, 10));
        bystanders.push(await spawnInPidNamespace('sleep', ['1000'], { init: false, stdio: 'ignore' }));
      }
      // What a test's clean-up does with whatever is left in the namespace.
      for (const pid of held.members()) process.kill(pid, 'SIGKILL');
      expect(bystanders.filter((b) => !running(b.pid)).map((b) => b.namespaceId)).toEqual([]);
      expect(bystanders.map((b) => b.namespaceId)).not.toContain(ended.namespaceId);
    } finally {
      held.release();
      for (const b of bystanders) b.kill('SIGKILL');
      await Promise.all(bystanders.map((b) => b.exited));
    }
  });
});
