// Node in a PID namespace of its own whose /proc still shows the outer one (`unshare --pid --fork`
// without --mount-proc): every pid the kernel gives back would name some other process there, so
// a spawn and PidNamespace.create refuse with ERR_FOREIGN_PROC before anything is started.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { describeAsRoot } from './root';

const script = `
  const fs = require('fs');
  const { spawnInPidNamespace, PidNamespace } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
  (async () => {
    const results = [];
    for (const attempt of [() => spawnInPidNamespace('/bin/true'), () => PidNamespace.create()]) {
      try {
        await attempt();
        results.push({ resolved: true });
      } catch (err) {
        results.push({ code: err.code, hint: err.hint });
      }
    }
    // /proc/self is this process in the outer /proc: its children, by the kernel.
    const children = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/children', 'utf8').trim()).filter(Boolean);
    console.log(JSON.stringify({ pid: process.pid, results, children }));
  })();
`;

describeAsRoot('a /proc of another PID namespace', () => {
  test('spawnInPidNamespace and PidNamespace.create refuse with ERR_FOREIGN_PROC, and nothing is started', () => {
    const run = spawnSync('unshare', ['--pid', '--fork', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20000 });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report.pid).toBe(1);
    const refusal = { code: 'ERR_FOREIGN_PROC', hint: expect.stringMatching(/--mount-proc/) };
    expect(report.results).toEqual([refusal, refusal]);
    expect(report.children).toEqual([]);
  });

  test('with a /proc of its own (--mount-proc) the same process spawns', () => {
    const ok = `
      const { spawnInPidNamespace } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      spawnInPidNamespace('/bin/sh', ['-c', 'exit 4']).then((c) => c.exited).then((s) => console.log(JSON.stringify(s)));
    `;
    const run = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', ok], { encoding: 'utf8', timeout: 20000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ code: 4, signal: null });
  });
});
