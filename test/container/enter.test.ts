// A running Docker container as the target of joinNamespaces and `pidns exec --all`, from the host
// (as root): the command is in every namespace of the container's process, in its root, and finds
// a program that exists only there.
//
// Run after `npm run build`, with a Docker daemon (scripts/docker-daemon.sh start):
//   npx jest --testPathIgnorePatterns /node_modules/ --runInBand test/container/enter.test.ts
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runInPidNamespace } from '../../lib';
import { Container, describeWithDocker, docker, eventually, start } from './docker';

const KINDS = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'];
const links = (pid: number | 'self') => KINDS.map((kind) => fs.readlinkSync(`/proc/${pid}/ns/${kind}`));

describeWithDocker('joinNamespaces: a Docker container as the target', () => {
  let container: Container;
  let pid: number;
  beforeAll(async () => {
    container = await start(['sh', '-c', 'cp /bin/cat /usr/local/bin/only-in-container && echo ready && exec sleep 100'], { dockerArgs: ['--hostname', 'boxed'] });
    await container.waitForLog('ready');
    pid = await eventually('the container\'s pid', async () => {
      const r = await docker(['inspect', '-f', '{{.State.Pid}}', container.name]);
      const found = Number(r.stdout.trim());
      return found > 0 && fs.readFileSync(`/proc/${found}/comm`, 'utf8').trim() === 'sleep' && found;
    });
  }, 60000);
  afterAll(() => container.remove());

  test("every namespace of the command is the container's, and a program only there is found", async () => {
    expect(fs.existsSync('/usr/local/bin/only-in-container')).toBe(false);
    const script = `hostname; for n in ${KINDS.join(' ')}; do readlink /proc/self/ns/$n; done; echo hello | only-in-container`;
    const result = await runInPidNamespace('sh', ['-c', script], { join: pid, joinNamespaces: 'all', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } });
    expect(result.stdout).toBe(['boxed', ...links(pid), 'hello', ''].join('\n'));
    expect(result.code).toBe(0);
  });

  test('pidns exec --target PID --all -- CMD', () => {
    const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'exec', '--target', String(pid), '--all', '--', 'sh', '-c', 'cat /etc/hostname; echo $$'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^boxed\n\d+\n$/);
    expect(Number(r.stdout.split('\n')[1])).toBeGreaterThan(1);
    expect(r.status).toBe(0);
  });
});
