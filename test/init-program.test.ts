// The init program on its own: run directly (a child subreaper, not pid 1) and as pid 1 of a new
// namespace under util-linux unshare. Assertions read what the kernel says (/proc, exit statuses).
import { ChildProcess, spawn, SpawnOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../lib/native';
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, MSG_CHILD, MSG_EMPTY, MSG_EXEC_FAILED, MSG_EXITED, MSG_STARTED, MSG_USAGE_MAXRSS, MSG_USAGE_SYSTEM, MSG_USAGE_USER, REQ_TERMINATE } from '../lib/protocol';
import { describeAsRoot } from './root';
import { INIT, strays, dir, Running, launch, initArgv, run, sleep, waitFor, readFile, status, childrenOf, descendantsOf, processGroup, gone, initPidOf, commandPidOf, zombiesUnder, script, exists, waitForFile } from './init-harness';

describeAsRoot('pidns-init', () => {
  describe.each([
    ['run directly (child subreaper)', false],
    ['pid 1 under unshare', true],
  ])('%s', (_mode, pid1) => {
    test.each([0, 1, 3, 255])('passes exit code %i through', async (code) => {
      const outcome = await run(initArgv(pid1, ['--', 'sh', '-c', `exit ${code}`]));
      expect(outcome.code).toBe(code);
    });

    test('exits 128+N when signal N ends the command', async () => {
      expect((await run(initArgv(pid1, ['sh', '-c', 'kill -TERM $$']))).code).toBe(128 + 15);
      expect((await run(initArgv(pid1, ['sh', '-c', 'kill -KILL $$']))).code).toBe(128 + 9);
    });

    test('looks a bare command name up in PATH', async () => {
      expect((await run(initArgv(pid1, ['false']))).code).toBe(1);
    });

    test('the command runs with no signal ignored or blocked, as its child', async () => {
      // Node's spawn resets dispositions itself, so coreutils env ignores them all before it
      // execs the init (or unshare), as a parent like nohup would.
      const running = launch(['env', '--ignore-signal', ...initArgv(pid1, ['sleep', '100'])]);
      const initPid = await initPidOf(running, pid1);
      const commandPid = await commandPidOf(initPid, 'sleep');
      const fields = status(commandPid)!;
      expect(fields.SigIgn).toBe('0000000000000000');
      expect(fields.SigBlk).toBe('0000000000000000');
      expect(Number(fields.PPid)).toBe(initPid);
      const nsPids = fields.NSpid.split(/\s+/).map(Number);
      expect(nsPids[0]).toBe(commandPid);
      if (pid1) {
        expect(status(initPid)!.NSpid.split(/\s+/).map(Number)).toEqual([initPid, 1]);
        expect(nsPids).toEqual([commandPid, 2]);
      }
    });

    test('SIGTERM to the init ends a command that has no SIGTERM handler', async () => {
      const running = launch(initArgv(pid1, ['sleep', '100']));
      const initPid = await initPidOf(running, pid1);
      const commandPid = await commandPidOf(initPid, 'sleep');
      process.kill(initPid, 'SIGTERM');
      expect((await running.outcome).code).toBe(128 + 15);
      expect(gone(commandPid)).toBe(true);
    });

    test('a trapped SIGUSR1 reaches the command', async () => {
      const command = script(
        'command.sh',
        `trap 'echo USR1 > "$DIR/got"; exit 7' USR1\n: > "$DIR/ready"\nwhile :; do sleep 0.05; done\n`,
      );
      const running = launch(initArgv(pid1, ['sh', command]));
      const initPid = await initPidOf(running, pid1);
      await waitForFile('ready');
      process.kill(initPid, 'SIGUSR1');
      expect((await running.outcome).code).toBe(7);
      expect(exists('got')).toBe(true);
    });

    test('reaps 200 orphans: no zombie is left under the init', async () => {
      const command = script(
        'command.sh',
        [
          'i=0',
          'while [ $i -lt 200 ]; do (true &); i=$((i+1)); done',
          '(exec sleep 0.4 &)',
          ': > "$DIR/ready"',
          'exec sleep 100',
          '',
        ].join('\n'),
      );
      const running = launch(initArgv(pid1, ['sh', command]));
      const initPid = await initPidOf(running, pid1);
      await waitForFile('ready');
      // The orphan went to the init, not to the host's init or to the test.
      const orphan = await waitFor(
        () => childrenOf(initPid).find((pid) => readFile(`/proc/${pid}/cmdline`) === 'sleep\x000.4\x00'),
        'the orphan sleep',
      );
      expect(Number(status(orphan)!.PPid)).toBe(initPid);
      await waitFor(() => gone(orphan) && zombiesUnder(initPid).length === 0, 'no zombie under the init');
      expect(status(orphan)).toBeNull();
      expect(status(initPid)).not.toBeNull();
    });

    test('--signal-group puts the command in its own group and signals all of it', async () => {
      script(
        'grandchild.sh',
        [
          `trap 'echo USR1 > "$DIR/got"; exit 0' USR1`,
          ': > "$DIR/grandchild-ready"',
          'while :; do sleep 0.05; done',
          '',
        ].join('\n'),
      );
      // The command ignores SIGUSR1 only after its grandchild set a trap: an ignored signal could
      // not be trapped by a shell it starts.
      const command = script(
        'command.sh',
        [
          'sh "$DIR/grandchild.sh" &',
          'while [ ! -e "$DIR/grandchild-ready" ]; do sleep 0.01; done',
          "trap '' USR1",
          ': > "$DIR/ready"',
          'wait',
          '',
        ].join('\n'),
      );
      const running = launch(initArgv(pid1, ['--signal-group', 'sh', command]));
      const initPid = await initPidOf(running, pid1);
      const commandPid = await commandPidOf(initPid, 'sh');
      await waitForFile('ready');
      expect(processGroup(commandPid)).toBe(commandPid);
      process.kill(initPid, 'SIGUSR1');
      expect((await running.outcome).code).toBe(0);
      expect(exists('got')).toBe(true);
    });

    test('run on its own, the command leads a process group of its own without --signal-group too (as tini\'s child does)', async () => {
      const running = launch(initArgv(pid1, ['sleep', '100']));
      const initPid = await initPidOf(running, pid1);
      const commandPid = await commandPidOf(initPid, 'sleep');
      expect(processGroup(commandPid)).toBe(commandPid);
      expect(processGroup(initPid)).not.toBe(commandPid);
    });

    // An ignored SIGCHLD makes the kernel reap children at once, losing their status.
    test('the exit status survives an ignored SIGCHLD inherited by the init', async () => {
      const argv = ['env', '--ignore-signal=CHLD', ...initArgv(pid1, ['sh', '-c', 'exit 3'])];
      const outcome = await run(argv);
      expect(outcome.code).toBe(3);
    });

    test('a missing command exits 127, a non-executable file 126, one line on stderr', async () => {
      const missing = await run(initArgv(pid1, ['--', path.join(dir, 'missing')]));
      expect(missing.code).toBe(EXIT_NOT_FOUND);
      expect(missing.stderr).toMatch(/^pidns-init: .*missing: No such file or directory\n$/);

      const plain = script('plain.txt', 'not a program\n');
      const notExecutable = await run(initArgv(pid1, ['--', plain]));
      expect(notExecutable.code).toBe(EXIT_CANNOT_EXECUTE);
      expect(notExecutable.stderr).toMatch(/^pidns-init: .*plain\.txt: Permission denied\n$/);
    });

    test.each(['SIGTERM', 'SIGINT'] as const)('--pause ignores SIGUSR1 and exits 0 on %s', async (signal) => {
      const running = launch(initArgv(pid1, ['--pause']));
      const initPid = await initPidOf(running, pid1);
      process.kill(initPid, 'SIGUSR1');
      process.kill(initPid, 'SIGHUP');
      // Still there, and back to sleep in poll (on a loaded machine it may take a moment).
      await waitFor(() => /^S/.test(status(initPid)?.State ?? ''), 'the init asleep after SIGUSR1 and SIGHUP');
      process.kill(initPid, signal);
      expect((await running.outcome).code).toBe(0);
    });
  });

  test('every exit code 0..255 passes through', async () => {
    const loop = [
      'i=0',
      'while [ $i -le 255 ]; do',
      '  "$0" -- sh -c "exit $i"; r=$?',
      '  [ $r -eq $i ] || { echo "exit $i gave $r"; exit 1; }',
      '  i=$((i+1))',
      'done',
    ].join('\n');
    const outcome = await run(['sh', '-c', loop, INIT]);
    expect(outcome.stdout).toBe('');
    expect(outcome.code).toBe(0);
  });

  test('every signal that ends a process by default gives 128+N', async () => {
    // The test process ignores SIGPIPE (Node does), so 13 also checks that the init resets it.
    const signals = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31];
    for (let rt = 34; rt <= 64; rt++) signals.push(rt);
    const loop = [
      'for n in "$@"; do',
      '  "$0" -- sh -c "ulimit -c 0; kill -$n \\$\\$"; r=$?',
      '  [ $r -eq $((128+n)) ] || echo "signal $n gave $r"',
      'done',
    ].join('\n');
    const outcome = await run(['sh', '-c', loop, INIT, ...signals.map(String)]);
    expect(outcome.stdout).toBe('');
    expect(outcome.code).toBe(0);
  });

  describe('teardown as pid 1', () => {
    const leaveBackgroundJob = (trap: string): string => {
      script(
        'background.sh',
        `trap ${trap} TERM\n: > "$DIR/background-ready"\nwhile :; do sleep 0.05; done\n`,
      );
      return script(
        'command.sh',
        [
          'sh "$DIR/background.sh" &',
          'sleep 1000 &',
          'while [ ! -e "$DIR/background-ready" ]; do sleep 0.01; done',
          'while [ ! -e "$DIR/go" ]; do sleep 0.01; done',
          'exit 5',
          '',
        ].join('\n'),
      );
    };

    async function runUntilCommandExits(args: readonly string[], command: string) {
      const running = launch(initArgv(true, [...args, 'sh', command]));
      const initPid = await initPidOf(running, true);
      await waitForFile('background-ready');
      // The background `sleep 1000` is a forked shell until it has exec'd.
      await waitFor(() => descendantsOf(initPid).some((pid) => readFile(`/proc/${pid}/cmdline`) === 'sleep\x001000\x00'), 'the background sleep');
      const left = descendantsOf(initPid);
      const startedAt = Date.now();
      fs.writeFileSync(path.join(dir, 'go'), '');
      const outcome = await running.outcome;
      return { outcome, left, ms: Date.now() - startedAt };
    }

    test('without a grace, everything left is killed at once with the init', async () => {
      const command = leaveBackgroundJob(`'echo TERM > "$DIR/got"; exit 0'`);
      const { outcome, left } = await runUntilCommandExits([], command);
      expect(outcome.code).toBe(5);
      await waitFor(() => left.every(gone), 'the namespace to empty');
      expect(exists('got')).toBe(false);
    });

    test('with a grace, what is left gets SIGTERM and the init exits once it is gone', async () => {
      const command = leaveBackgroundJob(`'echo TERM > "$DIR/got"; exit 0'`);
      const { outcome, left, ms } = await runUntilCommandExits(['--grace-ms', '20000'], command);
      expect(outcome.code).toBe(5);
      expect(exists('got')).toBe(true);
      expect(left.every(gone)).toBe(true);
      expect(ms).toBeLessThan(10000);
    });

    test('a process that ignores SIGTERM is killed when the grace ends', async () => {
      const command = leaveBackgroundJob(`''`);
      const { outcome, left, ms } = await runUntilCommandExits(['--grace-ms', '300'], command);
      expect(outcome.code).toBe(5);
      expect(ms).toBeGreaterThanOrEqual(300);
      await waitFor(() => left.every(gone), 'the namespace to empty');
    });
  });

  test('not pid 1, the init ends its descendants (SIGTERM within the grace) and nothing else', async () => {
    script(
      'background.sh',
      `trap 'echo TERM > "$DIR/got"; exit 0' TERM\necho $$ > "$DIR/ready"\nwhile :; do sleep 0.05; done\n`,
    );
    const command = script(
      'command.sh',
      'sh "$DIR/background.sh" &\nwhile [ ! -s "$DIR/ready" ]; do sleep 0.01; done\nexit 5\n',
    );
    // A process of the same uid that is not the init's descendant: kill(-1) would reach it.
    const bystander = launch(['sleep', '30'], { stdio: 'ignore' });
    // stdio 'ignore': the background process would hold output pipes open past the init's exit.
    const running = launch([INIT, '--grace-ms', '2000', 'sh', command], { stdio: 'ignore' });
    await waitFor(() => readFile(path.join(dir, 'ready'))?.endsWith('\n'), 'the background pid');
    const background = Number(readFile(path.join(dir, 'ready')));
    strays.push(background);
    expect((await running.outcome).code).toBe(5);
    expect(readFile(path.join(dir, 'got'))).toBe('TERM\n');
    expect(gone(background)).toBe(true);
    expect(status(bystander.child.pid!)?.State).toMatch(/^S/);
    bystander.child.kill('SIGKILL');
  });

  test.each([
    [[], 'missing command'],
    [['--pause', 'sleep', '1'], '--pause takes no command'],
    [['--bogus', 'true'], 'unknown option --bogus'],
    [['--grace-ms', '-1', 'true'], 'not a count'],
    [['--grace-ms', '1x', 'true'], 'not a count'],
    [['--control-fd'], '--control-fd needs a value'],
    [['--control-fd', '2', 'true'], '--control-fd must be 3 or more'],
    [['--control-fd', '99', 'true'], '--control-fd 99: Bad file descriptor'],
  ])('usage error %j exits 2 with one line', async (args, message) => {
    const outcome = await run([INIT, ...args]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr.split('\n')).toHaveLength(2);
    expect(outcome.stderr).toContain(message);
  });

  // The channel as the library makes it: a SOCK_SEQPACKET pair from the addon, read on Node's
  // loop with the credentials and descriptors the messages carry.
  describe('control channel', () => {
    interface Channel {
      running: Running;
      records: Array<[number, number]>;
      send(type: number): void;
      close(): void;
    }

    function launchWithChannel(argv: readonly string[]): Channel {
      const pair = native.controlPair();
      if (!Array.isArray(pair)) throw new Error(`socketpair: errno ${pair.errno}`);
      const [nodeFd, initFd] = pair;
      const running = launch(argv, { stdio: ['ignore', 'pipe', 'pipe', initFd] });
      native.closeFd(initFd);
      const records: Array<[number, number]> = [];
      const channel = new native.ControlChannel(nodeFd, (type, value, _pid, pidfd) => {
        if (pidfd >= 0) native.closeFd(pidfd);
        if (type !== 0) records.push([type, value]);
      });
      void running.outcome.then(() => channel.drain());
      return {
        running,
        records,
        send: (type) => void channel.send(type, 0),
        close: () => channel.close(),
      };
    }

    test('reports the start and the exact wait status; the command holds no init descriptor', async () => {
      const channel = launchWithChannel([INIT, '--control-fd', '3', 'sleep', '100']);
      const initPid = channel.running.child.pid!;
      const commandPid = await commandPidOf(initPid, 'sleep');
      await waitFor(() => channel.records.length >= 2, 'two records');
      expect(channel.records).toEqual([
        [MSG_CHILD, commandPid],
        [MSG_STARTED, commandPid],
      ]);

      const controlSocket = fs.readlinkSync(`/proc/${initPid}/fd/3`);
      const commandFds = fs.readdirSync(`/proc/${commandPid}/fd`).map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${commandPid}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      expect(commandFds).not.toContain(controlSocket);
      expect(commandFds.filter((target) => target.includes('signalfd'))).toEqual([]);
      expect(fs.readlinkSync(`/proc/${initPid}/fd/0`)).toBe('/dev/null');
      expect(fs.readlinkSync(`/proc/${initPid}/fd/1`)).toBe('/dev/null');

      process.kill(initPid, 'SIGTERM');
      expect((await channel.running.outcome).code).toBe(128 + 15);
      await waitFor(() => channel.records.length >= 6, 'the exit and usage records');
      expect(channel.records.slice(2)).toEqual([
        [MSG_EXITED, 15],
        [MSG_USAGE_USER, 0],
        [MSG_USAGE_SYSTEM, 0],
        [MSG_USAGE_MAXRSS, 0],
      ]);
    });

    test('an exec failure is a record, not a line on stderr', async () => {
      const channel = launchWithChannel([INIT, '--control-fd', '3', path.join(dir, 'missing')]);
      const outcome = await channel.running.outcome;
      expect(outcome.code).toBe(EXIT_NOT_FOUND);
      expect(outcome.stderr).toBe('');
      // The exit can be seen before the socket's last bytes are read.
      await waitFor(() => channel.records.length >= 2, 'two records');
      expect(channel.records.map(([type]) => type)).toEqual([MSG_CHILD, MSG_EXEC_FAILED]);
      expect(channel.records[1][1]).toBe(os.constants.errno.ENOENT);
    });

    test('a terminate request as pid 1 ends everyone and is answered once the init has no child', async () => {
      const channel = launchWithChannel(initArgv(true, ['--control-fd', '3', 'sleep', '100']));
      await waitFor(() => channel.records.length >= 2, 'the start');
      expect(channel.records[1]).toEqual([MSG_STARTED, 2]);
      channel.send(REQ_TERMINATE);
      expect((await channel.running.outcome).code).toBe(128 + 15);
      await waitFor(() => channel.records.length >= 7, 'the exit, empty and usage records');
      expect(channel.records.slice(2)).toEqual([
        [MSG_EXITED, 15],
        [MSG_EMPTY, 0],
        [MSG_USAGE_USER, 0],
        [MSG_USAGE_SYSTEM, 0],
        [MSG_USAGE_MAXRSS, 0],
      ]);
    });

    test('the namespace dies with the channel', async () => {
      const channel = launchWithChannel(initArgv(true, ['--control-fd', '3', 'sleep', '100']));
      const initPid = await initPidOf(channel.running, true);
      const commandPid = await commandPidOf(initPid, 'sleep');
      await waitFor(() => channel.records.length >= 2, 'the start');
      channel.close();
      expect((await channel.running.outcome).code).toBe(128 + 9);
      await waitFor(() => gone(commandPid), 'the command to die');
    });

    test('--no-die-with-parent outlives the channel', async () => {
      const command = script('command.sh', 'while [ ! -e "$DIR/go" ]; do sleep 0.01; done\nexit 4\n');
      const argv = [INIT, '--control-fd', '3', '--no-die-with-parent', 'sh', command];
      const channel = launchWithChannel(argv);
      await waitFor(() => channel.records.length >= 2, 'the start');
      channel.close();
      await sleep(50);
      fs.writeFileSync(path.join(dir, 'go'), '');
      expect((await channel.running.outcome).code).toBe(4);
    });
  });
});
