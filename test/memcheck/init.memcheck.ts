// pidns-init under valgrind memcheck: no invalid access, no uninitialised value reaching a system
// call, no leak, in the situations it meets (exec, reaping orphans, signals, teardown, exec
// failure, a PATH search). Not part of `npm test`: scripts/test-memcheck.sh builds every variant
// of the init it can on this machine and runs this file once for each, with the binary in
// PIDNS_MEMCHECK_INIT.
import { spawnSync } from 'child_process';
import { describeAsRoot } from '../root';

const INIT = process.env.PIDNS_MEMCHECK_INIT;
const BUILD = process.env.PIDNS_MEMCHECK_BUILD ?? 'unnamed';
// No suppression file: valgrind's own suppressions (for the dynamic loader) are all that apply.
const MEMCHECK = ['valgrind', '--vgdb=no', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite,indirect', '-q'];

function underMemcheck(args: string[], asPid1: boolean) {
  if (!INIT) throw new Error('PIDNS_MEMCHECK_INIT names no init: run this through npm run test:memcheck');
  const command = asPid1 ? ['unshare', '--pid', '--fork', '--kill-child', '--', ...MEMCHECK, INIT, ...args] : [...MEMCHECK, INIT, ...args];
  return spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 60000 });
}

describeAsRoot(`pidns-init (${BUILD} build) under valgrind memcheck`, () => {
  test.each([false, true])('exit status, orphans and a signal death pass cleanly (pid 1: %s)', (asPid1) => {
    const exit = underMemcheck(['--', 'sh', '-c', 'sleep 0.1 >/dev/null 2>&1 & (true &); exit 3'], asPid1);
    expect(exit.stderr).toBe('');
    expect(exit.status).toBe(3);
    const signal = underMemcheck(['--grace-ms', '200', '--', 'sh', '-c', 'sleep 0.3 >/dev/null 2>&1 & kill -TERM $$'], asPid1);
    expect(signal.stderr).toBe('');
    expect(signal.status).toBe(128 + 15);
  });

  test('an exec failure passes cleanly', () => {
    const run = underMemcheck(['--', '/nonexistent/command'], false);
    expect(run.status).toBe(127);
    expect(run.stderr).toBe('pidns-init: /nonexistent/command: No such file or directory\n');
  });

  test('a PATH search that finds nothing passes cleanly', () => {
    const run = underMemcheck(['--', 'pidns-no-such-command'], false);
    expect(run.status).toBe(127);
    expect(run.stderr).toBe('pidns-init: pidns-no-such-command: No such file or directory\n');
  });

  test('a usage error passes cleanly', () => {
    const run = underMemcheck(['--grace-ms', '1x', 'true'], false);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('pidns-init: --grace-ms: not a count: 1x; see pidns-init --help\n');
  });
});
