// pidns-init's flags for a container's entrypoint (the ones users of tini and dumb-init reach
// for), and how it ends its descendants when it is not pid 1. Each runs the init directly (a child
// subreaper) and as pid 1 of a new namespace under unshare where both matter; what is asserted is
// read from the kernel: exit statuses, /proc, files the processes wrote.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { EXIT_USAGE } from '../lib/protocol';
import { INIT, descendantsOf, dir, exists, killQuietly, gone, initArgv, initPidOf, launch, readFile, run, script, sleep, strays, waitFor, waitForFile } from './init-harness';
import { processesRunning, sleepMarker as marker } from './kernel';
import { describeAsRoot } from './root';

describeAsRoot('pidns-init flags', () => {
  test('--help and -h print the usage on stdout and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const outcome = await run([INIT, flag]);
      expect(outcome.code).toBe(0);
      expect(outcome.stderr).toBe('');
      for (const option of ['-g, --signal-group', '-e, --success-exit', '-p, --parent-death-signal', '-s, --subreaper', '-v, --verbose', '-w, --wait-all'])
        expect(outcome.stdout).toContain(option);
    }
  });

  test('--version prints one line naming the version, the build and the architecture, and exits 0', async () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const arch = ({ x64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[process.arch] ?? process.arch;
    const outcome = await run([INIT, '--version']);
    expect(outcome.code).toBe(0);
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toMatch(new RegExp(`^pidns-init ${manifest.version.replace(/\./g, '\\.')} \\((nolibc|musl|system|system-dynamic|sanitize) build(, [^()]+)?, ${arch}\\)\n$`));
    // --help lists it.
    expect((await run([INIT, '--help'])).stdout).toMatch(/^ +--version +print the version/m);
  });

  test.each([
    [['-e'], '-e needs a value'],
    [['-e', '256', 'true'], 'not an exit code'],
    [['-e', '-1', 'true'], 'not an exit code'],
    [['-e1x', 'true'], 'not an exit code'],
    [['-p', 'SIGNOPE', 'true'], 'not a signal'],
    [['-p', '0', 'true'], 'not a signal'],
    [['-p', '65', 'true'], 'not a signal'],
    [['--parent-death-signal'], '--parent-death-signal needs a value'],
    [['-gx', 'true'], 'unknown option -x'],
  ])('usage error %j exits 2 with one line', async (args, message) => {
    const outcome = await run([INIT, ...args]);
    expect(outcome.code).toBe(EXIT_USAGE);
    expect(outcome.stderr.split('\n')).toHaveLength(2);
    expect(outcome.stderr).toContain(message);
  });

  test('-- ends the options; a lone "-" is the command', async () => {
    expect((await run([INIT, '--', '-g'])).code).toBe(127);
    expect((await run([INIT, '-'])).code).toBe(127);
    expect((await run([INIT, '-s', '--', 'sh', '-c', 'exit 4'])).code).toBe(4);
  });

  describe.each([
    ['run directly (child subreaper)', false],
    ['pid 1 under unshare', true],
  ])('%s', (_mode, pid1) => {
    test('-e CODE turns that exit status into 0, and only that one', async () => {
      expect((await run(initArgv(pid1, ['-e', '143', '--', 'sh', '-c', 'kill -TERM $$']))).code).toBe(0);
      expect((await run(initArgv(pid1, ['--', 'sh', '-c', 'kill -TERM $$']))).code).toBe(143);
      expect((await run(initArgv(pid1, ['-e143', '-e', '3', '--', 'sh', '-c', 'exit 3']))).code).toBe(0);
      expect((await run(initArgv(pid1, ['--success-exit', '3', '--', 'sh', '-c', 'exit 4']))).code).toBe(4);
    });

    test('-g passes a signal to the command\'s whole process group; without it only the command gets it', async () => {
      const command = script(
        'group.sh',
        'trap "" TERM\n(trap "echo TERM > \\"$DIR/$1\\"; exit 0" TERM; echo > "$DIR/ready-$1"; while :; do sleep 0.05; done) &\nwait\nwait\n',
      );
      for (const [flag, name] of [['-gv', 'grouped'], ['-v', 'single']]) {
        const running = launch(initArgv(pid1, [flag, '--', 'sh', command, name]));
        const initPid = await initPidOf(running, pid1);
        await waitForFile(`ready-${name}`);
        process.kill(initPid, 'SIGTERM');
        if (name === 'grouped') {
          await waitForFile('grouped');
          expect((await running.outcome).code).toBe(0);
          expect((await running.outcome).stderr).toMatch(/passing SIGTERM to process group \d+/);
        } else {
          await sleep(300);
          expect(exists('single')).toBe(false);
          expect(readFile(`/proc/${initPid}/status`)).not.toBeNull();
          // Its descendants first: they hold the output pipes the outcome waits for.
          for (const pid of [...descendantsOf(initPid), initPid]) killQuietly(pid);
          await running.outcome;
        }
      }
    });

    test('--wait-all: the init exits after the last descendant, with the command\'s status', async () => {
      const started = Date.now();
      const outcome = await run(initArgv(pid1, ['--wait-all', '--', 'sh', '-c', '(sleep 0.5; echo late > "$DIR/late") & exit 5']));
      expect(outcome.code).toBe(5);
      expect(readFile(path.join(dir, 'late'))).toBe('late\n');
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      // Without it, the background job is ended with the command.
      const ended = await run(initArgv(pid1, ['--', 'sh', '-c', '(sleep 0.5; echo late > "$DIR/late2") & exit 5']));
      expect(ended.code).toBe(5);
      await sleep(700);
      expect(exists('late2')).toBe(false);
    });

    test('--wait-all: a signal to the init meanwhile reaches what is left', async () => {
      const mark = marker();
      const running = launch(initArgv(pid1, ['-wv', '--', 'sh', '-c', `(trap 'echo TERM > "$DIR/term"; exit 0' TERM; echo > "$DIR/ready"; while :; do sleep 0.05; done) & sleep ${mark} & exit 6`]));
      const initPid = await initPidOf(running, pid1);
      await waitForFile('ready');
      await waitFor(() => processesRunning(['sleep', mark]).length === 1, 'the second background job');
      process.kill(initPid, 'SIGTERM');
      const outcome = await running.outcome;
      expect(outcome.code).toBe(6);
      expect(readFile(path.join(dir, 'term'))).toBe('TERM\n');
      expect(processesRunning(['sleep', mark])).toEqual([]);
      expect(outcome.stderr).toContain('waiting for the other descendants to exit (--wait-all)');
      expect(outcome.stderr).toContain('passing SIGTERM to what is left');
    });

    test('--wait-all: a signal that comes with the command\'s end goes to what is left, not to the command\'s zombie', async () => {
      const mark = marker();
      const running = launch(initArgv(pid1, ['-wv', '--', 'sh', '-c', `sleep ${mark} & echo > "$DIR/ready"; sleep 0.3; exit 0`]));
      const initPid = await initPidOf(running, pid1);
      await waitForFile('ready');
      // Held stopped, the init sees the command's end and the SIGTERM in the same read.
      process.kill(initPid, 'SIGSTOP');
      const command = await waitFor(() => processesRunning(['sh', '-c', `sleep ${mark} & echo > "$DIR/ready"; sleep 0.3; exit 0`]).length === 0 && true, 'the command to end');
      expect(command).toBe(true);
      process.kill(initPid, 'SIGTERM');
      process.kill(initPid, 'SIGCONT');
      const outcome = await running.outcome;
      expect(outcome.code).toBe(0);
      expect(outcome.stderr).toContain('passing SIGTERM to what is left');
      expect(processesRunning(['sleep', mark])).toEqual([]);
    });

    test('-v says what the init does, on stderr only', async () => {
      const outcome = await run(initArgv(pid1, ['-v', '--', 'sh', '-c', 'echo out; exit 3']));
      expect(outcome.stdout).toBe('out\n');
      expect(outcome.stderr).toMatch(pid1 ? /pid 1 of its PID namespace/ : /pid \d+, a child subreaper \(not pid 1\)/);
      expect(outcome.stderr).toMatch(/started sh as pid \d+/);
      expect(outcome.stderr).toContain('the command exited with 3');
      expect(outcome.stderr).toContain('exiting with 3');
      // Quiet without it.
      expect((await run(initArgv(pid1, ['--', 'sh', '-c', 'exit 3']))).stderr).toBe('');
    });
  });

  test.each(['SIGUSR1', 'USR1', '10'])('-p %s: the init gets it when its parent dies and passes it on to the command', async (signal) => {
    // The init's parent is this shell, which exits once the command is ready.
    const command = 'trap \'echo USR1 > "$DIR/usr1"; exit 0\' USR1; echo > "$DIR/ready"; while :; do sleep 0.05; done';
    const parent = launch(['sh', '-c', `"$INIT" -p ${signal} -- sh -c '${command.replace(/'/g, "'\\''")}' & while [ ! -s "$DIR/ready" ]; do sleep 0.01; done; echo $! > "$DIR/init"`], { env: { INIT }, stdio: 'ignore' });
    await parent.outcome;
    const initPid = Number(readFile(path.join(dir, 'init')));
    strays.push(initPid);
    await waitForFile('usr1');
    await waitFor(() => gone(initPid), 'the init to exit');
  });

  test.each([[[]], [['-g']]])('%j from the terminal\'s foreground group: the command\'s own group gets the terminal (as tini does)', async (flags) => {
    // util-linux script runs the init on a new terminal, in its foreground group; the command
    // prints its pid, its group and the terminal's foreground group (fields 1, 5 and 8 of stat).
    const probe = `"${INIT}" ${flags.join(' ')} -- sh -c 'cut -d" " -f1,5,8 /proc/$$/stat'`;
    const outcome = await run(['script', '-qec', probe, '/dev/null']);
    expect(outcome.code).toBe(0);
    const [pid, group, foreground] = outcome.stdout.trim().split(' ').map(Number);
    expect(group).toBe(pid);
    expect(foreground).toBe(pid);
  });

  describe('not pid 1: the descendants are ended when the command ends', () => {
    test('double-forked, setsid and reparented processes are all found and killed', async () => {
      const mark = marker();
      const outcome = await run([INIT, '--', 'sh', '-c', `setsid sh -c "sleep ${mark} & exec sleep ${mark}" & sh -c "(sleep ${mark} &); :"; sleep 0.3; exit 0`]);
      expect(outcome.code).toBe(0);
      expect(processesRunning(['sleep', mark])).toEqual([]);
    });

    test('a fork storm leaves nothing behind', async () => {
      const mark = marker();
      const outcome = await run([INIT, '--', 'sh', '-c', `for i in 1 2 3; do (while :; do sleep ${mark} & done) & done; sleep 0.5; exit 4`]);
      expect(outcome.code).toBe(4);
      await sleep(100);
      expect(processesRunning(['sleep', mark])).toEqual([]);
      // Passes over /proc while thousands of processes come and go: slow on a loaded machine.
    }, 60000);

    test('a descendant named to confuse a /proc/PID/stat parser is still found', async () => {
      // The name is in parentheses in /proc/PID/stat; one holding ") R 1 " looks like a parent.
      const odd = path.join(dir, 'x) R 1 (y');
      fs.copyFileSync('/bin/sleep', odd);
      fs.chmodSync(odd, 0o755);
      const mark = marker();
      const outcome = await run([INIT, '--', 'sh', '-c', `("$0" ${mark} &) ; sleep 0.3`, odd]);
      expect(outcome.code).toBe(0);
      expect(processesRunning([odd, mark])).toEqual([]);
    });

    test('with no /proc of its namespace it says so and leaves what it cannot find', async () => {
      // The default build, also in the sanitizer run: AddressSanitizer's runtime cannot start
      // without /proc (nor can anything it is preloaded into).
      const plain = path.join(dir, 'pidns-init');
      const build = spawnSync('sh', [path.join(__dirname, '..', 'src-native', 'init', 'build.sh'), plain], { encoding: 'utf8', env: { ...process.env, PIDNS_INIT_BUILD: '', LD_PRELOAD: '' } });
      expect(build.status).toBe(0);
      const mark = marker();
      const outcome = await run(['unshare', '--mount', '--', 'sh', '-c', `mount -t tmpfs none /proc && exec "$INIT" -- sh -c '(sleep ${mark} </dev/null >/dev/null 2>&1 &); exit 3'`], { env: { INIT: plain, LD_PRELOAD: '' } });
      const left = processesRunning(['sleep', mark]);
      strays.push(...left);
      expect(outcome.code).toBe(3);
      expect(outcome.stderr).toContain('cannot read /proc to find the remaining descendants (No such file or directory): leaving them running');
      expect(left).toHaveLength(1);
      expect(gone(left[0])).toBe(false);
    });
  });
});
