// Ending a namespace reaches stopped processes too: SIGTERM alone would stay pending on a stopped
// process, which then sits out the whole grace and dies of SIGKILL without running its handler.
// Each process here stops itself with a SIGTERM trap set; the trap's file proves the handler ran,
// and the grace is longer than the test may take, so waiting it out fails the test.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace } from '../lib';
import { eventually, status } from './kernel';
import { describeAsRoot } from './root';

const LONG_GRACE_MS = 60000;

/** A shell that records SIGTERM in `mark` and stops itself (state T) once the trap is set. */
function stoppedWithTrap(mark: string): string {
  return `trap 'echo term > ${mark}; exit 0' TERM; echo $$ > ${mark}.pid; kill -STOP $$; while :; do sleep 1; done`;
}

/** Resolves once the shell has written its pid, that is, once its trap is set. */
async function trapSet(mark: string): Promise<void> {
  const written = await eventually(() => fs.existsSync(`${mark}.pid`) && fs.readFileSync(`${mark}.pid`, 'utf8').trim() !== '', 10000);
  expect(written).toBe(true);
}

describeAsRoot('teardown continues stopped processes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-stopped-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a pod member stopped by SIGSTOP runs its SIGTERM handler when the pod closes', async () => {
    const mark = path.join(dir, 'member');
    const ns = await PidNamespace.create();
    const member = await ns.spawn('/bin/sh', ['-c', stoppedWithTrap(mark)], { stdio: 'ignore' });
    await trapSet(mark);
    expect(await eventually(() => status(member.pid).get('State')!.startsWith('T'), 5000)).toBe(true);
    await ns.close({ graceMs: LONG_GRACE_MS });
    expect(fs.readFileSync(mark, 'utf8')).toBe('term\n');
    expect(await member.exited).toEqual(expect.objectContaining({ code: 0, signal: null }));
  });

  test('an orphan stopped by SIGSTOP runs its SIGTERM handler in the teardown grace after the command ends', async () => {
    const mark = path.join(dir, 'orphan');
    const script = path.join(dir, 'orphan.sh');
    fs.writeFileSync(script, stoppedWithTrap(mark));
    const child = await spawnInPidNamespace('/bin/sh', ['-c', `sh ${script} & while [ ! -s ${mark}.pid ]; do sleep 0.05; done; exit 5`], {
      stdio: 'ignore',
      teardownGraceMs: LONG_GRACE_MS,
    });
    expect(await child.exited).toEqual(expect.objectContaining({ code: 5, signal: null }));
    expect(fs.readFileSync(mark, 'utf8')).toBe('term\n');
  });
});
