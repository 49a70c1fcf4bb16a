// pidns-init as the ENTRYPOINT of a default container (no --privileged, no --cap-add): pid 1 of
// the container's PID namespace, or, with --pid container:X, a process of another container's
// namespace. What is asserted is what the kernel shows inside the container (/proc read through
// docker exec) and the exit codes Docker reports.
//
// Run after `npm run build`, with a Docker daemon (scripts/docker-daemon.sh start):
//   npx jest --testPathIgnorePatterns /node_modules/ --runInBand test/container
import { Container, describeWithDocker, eventually, INIT, run, sleep, start } from './docker';

/** A tiny HTTP server on the container's loopback (nothing connects to it). */
const SERVER = "require('http').createServer((q, s) => s.end('ok')).listen(8080, '127.0.0.1', () => console.log('listening'))";

/** Runs on teardown of each test: its containers go at once, not after the whole file. */
const containers: Container[] = [];
async function detached(command: string[], dockerArgs: string[] = []): Promise<Container> {
  const c = await start(command, { dockerArgs });
  containers.push(c);
  return c;
}

describeWithDocker('pidns-init as the entrypoint of a default container', () => {
  afterEach(async () => {
    await Promise.all(containers.splice(0).map((c) => c.remove()));
  });

  describe('docker stop -t 3', () => {
    test('node as pid 1 ignores SIGTERM: the stop waits the whole timeout and kills it (137)', async () => {
      const c = await detached(['node', '-e', SERVER]);
      await c.waitForLog('listening');
      const pid1 = await c.status(1);
      expect(pid1).toMatchObject({ Name: 'node', NSpid: '1', PPid: '0' });
      const { ms, status } = await c.stop(3);
      console.log(`docker stop -t 3, node as pid 1: ${ms.toFixed(0)} ms, exit ${status}`);
      expect(status).toBe(137);
      expect(ms).toBeGreaterThanOrEqual(3000);
    });

    test('pidns-init -- node: SIGTERM reaches node, which dies of it (143)', async () => {
      const c = await detached([INIT, '--', 'node', '-e', SERVER]);
      await c.waitForLog('listening');
      expect(await c.status(1)).toMatchObject({ Name: 'pidns-init', NSpid: '1', PPid: '0' });
      const node = (await c.processes()).find((p) => p.Name === 'node');
      expect(node).toMatchObject({ PPid: '1' });
      const { ms, status } = await c.stop(3);
      console.log(`docker stop -t 3, pidns-init -- node: ${ms.toFixed(0)} ms, exit ${status}`);
      expect(status).toBe(143);
    });
  });

  describe('orphans', () => {
    // The command's background child forks a subshell that forks `sleep 1` and exits: the sleep
    // is an orphan, re-parented to pid 1, and exits after a second.
    const command = ['sh', '-c', 'sh -c "( sleep 1 & echo orphan=\\$! )" & wait; exec sleep 60'];
    const orphanPid = (logs: string) => Number(/orphan=(\d+)/.exec(logs)![1]);

    test('pidns-init reaps an orphan that exits: no zombie is left in the container', async () => {
      const c = await detached([INIT, '--', ...command]);
      const orphan = orphanPid(await c.waitForLog('orphan='));
      // Re-parented to the init once the subshell has exited.
      expect(await eventually('the orphan re-parented', async () => (await c.status(orphan))?.PPid === '1')).toBe(true);
      await eventually('the orphan reaped', async () => (await c.status(orphan)) === undefined);
      const zombies = (await c.processes()).filter((p) => p.State.startsWith('Z'));
      expect(zombies).toEqual([]);
    });

    test('control: with sleep as pid 1, the same orphan stays a zombie', async () => {
      const c = await detached(command);
      const orphan = orphanPid(await c.waitForLog('orphan='));
      const zombie = await eventually('the orphan a zombie', async () => {
        const s = await c.status(orphan);
        return s?.State.startsWith('Z') && s;
      });
      expect(zombie).toMatchObject({ PPid: '1' });
    });
  });

  describe('exit status', () => {
    test('exit 3 -> the container exits 3', async () => {
      expect((await run([INIT, '--', 'sh', '-c', 'exit 3'])).status).toBe(3);
    });

    test('a command killed by SIGKILL from inside -> 137', async () => {
      expect((await run([INIT, '--', 'sh', '-c', 'kill -9 $$'])).status).toBe(137);
    });

    test('docker kill -s USR1 is forwarded to the command, which traps it and exits 42', async () => {
      const c = await detached([INIT, '--', 'sh', '-c', 'trap "exit 42" USR1; echo ready; while :; do sleep 0.1; done']);
      await c.waitForLog('ready');
      await c.kill('USR1');
      expect(await c.wait()).toBe(42);
    });
  });

  describe('-e CODE', () => {
    test('pidns-init -e 143: a command that dies of SIGTERM -> the container exits 0', async () => {
      const r = await run([INIT, '-e', '143', '--', 'sh', '-c', 'kill -TERM $$']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    });

    test('without -e the same command -> 143', async () => {
      expect((await run([INIT, '--', 'sh', '-c', 'kill -TERM $$'])).status).toBe(143);
    });
  });

  describe('--wait-all', () => {
    const command = ['sh', '-c', '(sleep 2; echo late) & exit 5'];

    test('the container exits 5 only after the background job has finished', async () => {
      const r = await run([INIT, '--wait-all', '--', ...command]);
      console.log(`pidns-init --wait-all: docker run took ${r.ms.toFixed(0)} ms`);
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 5, stdout: 'late\n', stderr: '' });
      expect(r.ms).toBeGreaterThanOrEqual(2000);
    });

    test('without it the background job is killed when the command exits: it never prints', async () => {
      const r = await run([INIT, '--', ...command]);
      console.log(`pidns-init without --wait-all: docker run took ${r.ms.toFixed(0)} ms`);
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 5, stdout: '' });
    });
  });

  describe('the command\'s process group', () => {
    // The command ignores SIGTERM itself and waits for its background child, which traps SIGTERM,
    // says so and exits; "ready" comes once both are set up.
    const command = [
      'sh',
      '-c',
      'sh -c "trap \\"echo grandchild: TERM; exit 0\\" TERM; touch /tmp/ready; while :; do sleep 0.1; done" & ' +
        'trap "" TERM; until [ -e /tmp/ready ]; do sleep 0.05; done; echo ready; wait; echo "command: done"',
    ];

    test.each(['-g', '--signal-group'])('%s: docker kill -s TERM reaches a grandchild in the command\'s group', async (flag) => {
      const c = await detached([INIT, flag, '--', ...command]);
      await c.waitForLog('ready');
      await c.kill('TERM');
      expect(await c.wait()).toBe(0);
      // (On stderr, the grandchild's shell says that its sleep was terminated.)
      expect(await c.stdout()).toBe('ready\ngrandchild: TERM\ncommand: done\n');
    });

    test('without it only the command gets the TERM: the grandchild does not', async () => {
      const c = await detached([INIT, '--', ...command]);
      await c.waitForLog('ready');
      await c.kill('TERM');
      await sleep(1000);
      expect(await c.stdout()).toBe('ready\n');
      expect((await c.status(1))?.Name).toBe('pidns-init');
    });
  });

  describe('docker run -t', () => {
    test('the command has the terminal on 0, 1 and 2 and is in its foreground process group', async () => {
      // Fields 5 and 8 of /proc/PID/stat: the process group and the terminal's foreground group.
      const script = '[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo terminal; s=$(cat /proc/$$/stat); set -- ${s##*) }; echo pgrp=$3 tpgid=$6';
      const r = await run([INIT, '--', 'sh', '-c', script], { dockerArgs: ['-t'] });
      expect(r.status).toBe(0);
      const out = r.stdout.replace(/\r/g, '');
      expect(out).toMatch(/^terminal\npgrp=\d+ tpgid=\d+\n$/);
      const [, pgrp, tpgid] = /pgrp=(\d+) tpgid=(\d+)/.exec(out)!;
      expect(tpgid).toBe(pgrp);
    });

    test('job control: bash -m puts a background job in the foreground (fg) and gets it back', async () => {
      const r = await run([INIT, '--', 'bash', '-m', '-c', 'sleep 1 & fg; echo fg=$?'], { dockerArgs: ['-t'] });
      expect({ status: r.status, stdout: r.stdout.replace(/\r/g, '') }).toEqual({ status: 0, stdout: 'sleep 1\nfg=0\n' });
    });
  });

  describe('a shared PID namespace (--pid container:X, Kubernetes shareProcessNamespace)', () => {
    test('pidns-init is not pid 1 there; an orphan of the command is re-parented to it; the container exits with the command', async () => {
      const pause = await detached(['tini', '--', 'sleep', 'infinity']);
      const app = await detached(
        [INIT, '--', 'sh', '-c', 'sh -c "sleep 1234 &"; echo started; until [ -e /tmp/go ]; do sleep 0.1; done; exit 7'],
        ['--pid', `container:${pause.name}`],
      );
      await app.waitForLog('started');
      const processes = await app.processes();
      expect(processes.find((p) => p.Pid === '1')).toMatchObject({ Name: 'tini' });
      const init = processes.find((p) => p.Name === 'pidns-init')!;
      expect(init).toBeDefined();
      expect(init.Pid).not.toBe('1');
      // The init is a child subreaper (which /proc does not show): the orphan's parent is the
      // init, not the namespace's pid 1.
      const orphan = processes.find((p) => p.Cmdline === 'sleep 1234')!;
      expect(orphan).toMatchObject({ PPid: init.Pid });

      expect((await app.exec(['touch', '/tmp/go'])).status).toBe(0);
      expect(await app.wait()).toBe(7);
      // Gone from the shared namespace once the container has ended. (When a container's main
      // process exits, runc also kills what is left in its cgroup.)
      await eventually('the orphan gone', async () => !(await pause.processes()).some((p) => p.Cmdline === 'sleep 1234'));
      expect((await pause.status(1))?.Name).toBe('tini');
      // Two containers, an exec and their ends: Docker alone takes tens of seconds on a busy machine.
    }, 90000);
  });
});
