// The init under valgrind memcheck: no invalid access, no uninitialised value reaching a system
// call, no leak, in the situations it meets (exec, reaping orphans, signals, teardown, exec failure).
import { spawnSync } from 'child_process';
import * as path from 'path';
import { describeAsRoot } from './root';

const INIT = path.resolve(__dirname, '../build/Release/pidns-init');
const MEMCHECK = ['valgrind', '--vgdb=no', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite,indirect', '-q'];

function underMemcheck(args: string[], asPid1: boolean) {
  const command = asPid1 ? ['unshare', '--pid', '--fork', '--kill-child', '--', ...MEMCHECK, INIT, ...args] : [...MEMCHECK, INIT, ...args];
  return spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 60000 });
}

describeAsRoot('pidns-init under valgrind memcheck', () => {
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
});
