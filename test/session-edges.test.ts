// Edges of the init session and of the arguments of pods and their members: what each input gives,
// and that a failure after the clone leaves no process behind (read from /proc).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, runInPidNamespace, spawnInPidNamespace } from '../lib';
import { native } from '../lib/native';
import { childrenOfSelf, eventually } from './kernel';
import { describeAsRoot } from './root';

describeAsRoot('PidNamespace arguments', () => {
  test('create and close take null where the default is meant, and any object', async () => {
    const pod = await PidNamespace.create({ dieWithParent: null, mountProc: null } as never);
    await pod.close({ graceMs: null } as never);
    const fromArray = await PidNamespace.create([] as never);
    await fromArray.close([] as never);
    await expect(PidNamespace.create(null as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(PidNamespace.create('x' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(childrenOfSelf()).toEqual([]);
  });

  test('a member: the pod\'s own options are checked first, then whether it has ended, then the rest', async () => {
    const pod = await PidNamespace.create();
    try {
      await expect(pod.spawn('true', 'x' as never)).rejects.toThrow(/"options" argument must be of type object/);
      await expect(pod.run('true', [], { init: true } as never)).rejects.toThrow(/options\.init/);
      // Only the caller's own properties: an inherited join is no option.
      const inherited = Object.create({ join: 1 }) as Record<string, unknown>;
      inherited.stdio = 'ignore';
      expect((await pod.run('true', [], inherited as never)).code).toBe(0);
    } finally {
      await pod.close();
    }
    await expect(pod.spawn('true', [1 as never])).rejects.toMatchObject({ code: 'ERR_NAMESPACE_ENDED' });
  });
});

describeAsRoot('refusals when joining', () => {
  test('the command\'s own execve refused is about the command, not about the namespace file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-join-exec-'));
    try {
      const file = path.join(dir, 'not-executable');
      fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
      const err = (await runInPidNamespace(file, [], { join: process.pid }).catch((e: unknown) => e)) as { code: string; syscall: string; hint: string };
      expect(err).toMatchObject({ code: 'EACCES', syscall: 'execve' });
      expect(err.hint).toMatch(/not executable/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeAsRoot('an init whose channel the event loop refuses', () => {
  test('the spawn and the pod reject with the reason, and the init is ended and reaped', async () => {
    const real = native.ControlChannel;
    (native as { ControlChannel: unknown }).ControlChannel = function refused(fd: number) {
      native.closeFd(fd);
      throw new Error('uv_poll_start: refused');
    };
    try {
      await expect(spawnInPidNamespace('sleep', ['100'], { stdio: 'ignore' })).rejects.toThrow('uv_poll_start: refused');
      await expect(PidNamespace.create()).rejects.toThrow('uv_poll_start: refused');
    } finally {
      (native as { ControlChannel: unknown }).ControlChannel = real;
    }
    // Neither init is left running, nor as a zombie of this process.
    await eventually(() => childrenOfSelf().length === 0, 5000);
    expect(childrenOfSelf()).toEqual([]);
  });
});
