// pidns run --no-new-namespace, --auto-namespace and --wait-all: the command line of the init as a
// subreaper in the caller's namespace, as root and as nobody; what is left is read from /proc.
import { asNobody } from './public-install';
import { EXIT_USAGE } from '../lib/protocol';
import { namespaceInode, processesRunning as running, sleepMarker } from './kernel';
import { expectOneLine, startCli, type Finished } from './cli-run';
import { describeAsRoot } from './root';

function pidns(args: string[], nobody = false): Promise<Finished> {
  return startCli(args, { wrap: nobody ? asNobody : undefined, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] }).finished;
}

describeAsRoot('pidns run without a new namespace', () => {
  test.each([false, true])('--no-new-namespace (as nobody: %s): exit status, both pids equal, our namespace, the spawn event says caller', async (nobody) => {
    const done = await pidns(['run', '--no-new-namespace', '--status-fd', '3', '--', 'sh', '-c', 'echo $$; exit 7'], nobody);
    expect(done.code).toBe(7);
    const spawned = done.events[0];
    expect(spawned).toMatchObject({ event: 'spawn', pidNamespace: 'caller', namespaceId: namespaceInode('self') });
    expect(spawned.nsPid).toBe(spawned.pid);
    expect(done.stdout.trim()).toBe(String(spawned.pid));
    expect(done.events[1]).toMatchObject({ event: 'exit', code: 7, signal: null });
  });

  test('--no-new-namespace: what the command left is killed before pidns exits', async () => {
    const mark = sleepMarker();
    const done = await pidns(['run', '--no-new-namespace', '--', 'sh', '-c', `setsid sleep ${mark} </dev/null >/dev/null 2>&1 & (sleep ${mark} </dev/null >/dev/null 2>&1 &); sleep 0.2; exit 0`]);
    expect(done.code).toBe(0);
    expect(running(['sleep', mark])).toEqual([]);
  });

  test('--auto-namespace: a new namespace as root, none as nobody', async () => {
    const root = await pidns(['run', '--auto-namespace', '--status-fd', '3', '--', 'true']);
    expect(root.events[0]).toMatchObject({ pidNamespace: 'new', nsPid: 2 });
    const nobody = await pidns(['run', '--auto-namespace', '--status-fd', '3', '--', 'true'], true);
    expect(nobody.code).toBe(0);
    expect(nobody.events[0]).toMatchObject({ pidNamespace: 'caller' });
  });

  test('--wait-all: pidns exits after the last process, with the command\'s status', async () => {
    for (const mode of [[], ['--no-new-namespace']]) {
      const done = await pidns(['run', ...mode, '--wait-all', '--', 'sh', '-c', '(sleep 0.3; echo late) & exit 4']);
      expect(done.code).toBe(4);
      expect(done.stdout).toBe('late\n');
    }
  });

  test('the refusal of a namespace names --no-new-namespace', async () => {
    const done = await pidns(['run', '--', 'true'], true);
    expect(done.code).toBe(125);
    expectOneLine(done.stderr);
    expect(done.stderr).toContain('use pidns run --no-new-namespace, which needs no privilege');
  });

  test.each([
    [['--no-new-namespace', '--auto-namespace'], '--no-new-namespace and --auto-namespace cannot be used together'],
    [['--no-new-namespace', '--mount-proc'], '--no-new-namespace cannot be used with --mount-proc'],
    [['--auto-namespace', '--user'], '--auto-namespace cannot be used with --user'],
    [['--no-new-namespace', '--no-init'], '--no-new-namespace cannot be used with --no-init'],
    [['--no-new-namespace', '--join', '1'], '--no-new-namespace cannot be used with --join'],
    [['--wait-all', '--no-init'], '--wait-all needs the init, which --no-init leaves out'],
    [['--wait-all', '--join', '1'], '--wait-all needs the init, which --join leaves out'],
    [['--no-new-namespace=1'], '--no-new-namespace takes no value'],
  ])('usage: %j', async (flags, message) => {
    const done = await pidns(['run', ...flags, '--', 'true']);
    expect(done.code).toBe(EXIT_USAGE);
    expectOneLine(done.stderr);
    expect(done.stderr).toContain(message);
  });
});
