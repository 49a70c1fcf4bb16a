// Joining an existing PID namespace: by pid, by path, and one made by util-linux unshare.
import { spawn } from 'child_process';
import * as fs from 'fs';
import { spawnInPidNamespace } from '../lib';
import { collect, eventually, namespaceInode, nsPidLine, status } from './kernel';
import { describeAsRoot } from './root';

describeAsRoot('joining an existing PID namespace', () => {
  test('by pid: the joiner is in that namespace with the next free pid, a child of Node', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    try {
      const joiner = await spawnInPidNamespace('sleep', ['30'], { join: pid1.pid, stdio: 'ignore' });
      expect(joiner.namespaceId).toBe(pid1.namespaceId);
      expect(namespaceInode(joiner.pid)).toBe(pid1.namespaceId);
      expect(nsPidLine(joiner.pid)).toEqual([joiner.pid, 2]);
      expect(joiner.nsPid).toBe(2);
      expect(joiner.init).toBeNull();
      expect(Number(status(joiner.pid).get('PPid'))).toBe(process.pid);
      joiner.kill('SIGKILL');
      await expect(joiner.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    } finally {
      pid1.kill('SIGKILL');
      await pid1.exited;
    }
  });

  test('by path, and the exit status of a joiner comes back', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    try {
      const joiner = await spawnInPidNamespace('sh', ['-c', 'exit 7'], { join: `/proc/${pid1.pid}/ns/pid` });
      expect(joiner.namespaceId).toBe(pid1.namespaceId);
      await expect(joiner.exited).resolves.toMatchObject({ code: 7, signal: null });
    } finally {
      pid1.kill('SIGKILL');
      await pid1.exited;
    }
  });

  test('a namespace made by unshare --pid --fork', async () => {
    const unshare = spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', '30'], { stdio: 'ignore' });
    try {
      let target = 0;
      await eventually(() => {
        const kids = fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim();
        target = Number(kids.split(/\s+/)[0] || 0);
        return target > 0 && status(target).get('Name') === 'sleep';
      });
      expect(nsPidLine(target)).toEqual([target, 1]);
      const joiner = await spawnInPidNamespace('sh', ['-c', 'echo $$'], { join: target });
      expect(joiner.namespaceId).toBe(namespaceInode(target));
      expect(await collect(joiner.stdout)).toBe(`${joiner.nsPid}\n`);
      expect(joiner.nsPid).toBeGreaterThan(1);
      await expect(joiner.exited).resolves.toMatchObject({ code: 0, signal: null });
    } finally {
      unshare.kill('SIGKILL');
      await new Promise((r) => unshare.once('exit', r));
    }
  });

  test('when the namespace ends, a joiner is killed and reaped by Node', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    const joiner = await spawnInPidNamespace('sleep', ['30'], { join: pid1.pid, stdio: 'ignore' });
    pid1.kill('SIGKILL');
    await expect(joiner.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    await pid1.exited;
  });
});
