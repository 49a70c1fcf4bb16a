// Node itself inside a PID namespace: pids are reported in Node's own view.
import { spawnSync } from 'child_process';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

describeAsRoot('Node running inside a PID namespace', () => {
  test('pid is the first NSpid entry Node sees, nsPid the last, for every mode', () => {
    const run = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, fixture('nspid-report.js')], { encoding: 'utf8', timeout: 20000 });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report.self).toEqual([1]); // Node is pid 1 of its namespace, as its /proc shows
    for (const name of ['underInit', 'raw', 'joined']) {
      const entry = report[name];
      expect(entry.kernel).toHaveLength(2);
      expect(entry.pid).toBe(entry.kernel[0]);
      expect(entry.nsPid).toBe(entry.kernel[1]);
      expect(entry.helper).toEqual(entry.kernel);
    }
    expect(report.underInit.nsPid).toBe(2);
    expect(report.underInit.init.kernel).toEqual([report.underInit.init.api.pid, 1]);
    expect(report.raw.nsPid).toBe(1);
    expect(report.joined.nsPid).toBe(2);
    expect(report.pod.initKernel).toEqual([report.pod.init.pid, 1]);
    expect(report.pod.member.kernel).toEqual([report.pod.member.pid, report.pod.member.nsPid]);
    expect(report.pod.member.nsPid).toBe(2);
  });
});
