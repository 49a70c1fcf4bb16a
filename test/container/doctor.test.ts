// pidns doctor inside Docker containers: in a default one (no --privileged, no --cap-add), which
// refuses every new namespace, it must say so, say that it runs in a container, and point to the
// mode without a new namespace; with CAP_SYS_ADMIN and no seccomp filter, the default mode works.
//
// Run after `npm run build`, with a Docker daemon (scripts/docker-daemon.sh start):
//   npx jest --testPathIgnorePatterns /node_modules/ --runInBand test/container/doctor.test.ts
import { describeWithDocker, run } from './docker';

const CLI = '/pidns/dist/cli.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Report = { ok: boolean; uid: number; checks: Record<string, any> };

describeWithDocker('pidns doctor inside a container', () => {
  describe('a default container (no --privileged, no --cap-add)', () => {
    test('exit 1: new PID namespaces refused with EPERM, in a container, and the mode without a new namespace recommended', async () => {
      const r = await run(['node', CLI, 'doctor']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(1);
      const lines = r.stdout.trimEnd().split('\n');
      const refused = lines.find((l) => l.startsWith('no  new PID namespaces: refused (EPERM from clone). '));
      expect(refused).toBeDefined();
      expect(refused).toContain('pidns run --no-new-namespace');
      expect(refused).toContain('newNamespace: false');
      expect(refused).toContain('make pidns-init its entrypoint');
      // As root in the container, what would make the namespace work there.
      expect(refused).toContain('--cap-add SYS_ADMIN');
      expect(lines).toContain('ok  without a new namespace (newNamespace: false, --no-new-namespace): works');
      expect(lines.find((l) => l.includes('  container: yes ('))).toContain('/.dockerenv exists');
      expect(lines[lines.length - 1]).toMatch(/does not work here/);
    });

    test('--json: one object, the same findings', async () => {
      const r = await run(['node', CLI, 'doctor', '--json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.ok).toBe(false);
      expect(report.uid).toBe(0);
      expect(report.checks.pidNamespace).toMatchObject({ ok: false, errno: 'EPERM', syscall: 'clone', capSysAdmin: false });
      expect(report.checks.noNewNamespace.ok).toBe(true);
      expect(report.checks.userNamespace).toMatchObject({ ok: false, errno: 'EPERM' });
      expect(report.checks.container).toMatchObject({ inContainer: true, isPid1: true, initialPidNamespace: false });
      expect(report.checks.container.evidence).toContain('/.dockerenv exists');
      // Docker's default profile is a seccomp filter.
      expect(report.checks.seccomp).toMatchObject({ mode: 2 });
      expect(report.checks.init).toMatchObject({ ok: true, path: '/pidns/build/Release/pidns-init', origin: 'built here' });
    });

    test('as --user 65534:65534: refused too, without advice that only root could follow', async () => {
      const r = await run(['node', CLI, 'doctor', '--json'], { dockerArgs: ['--user', '65534:65534'] });
      expect(r.status).toBe(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.checks.pidNamespace).toMatchObject({ ok: false, errno: 'EPERM' });
      expect(report.checks.pidNamespace.hint).toContain('pidns run --no-new-namespace');
      expect(report.checks.pidNamespace.hint).not.toContain('--cap-add');
    });
  });

  describe('with --cap-add SYS_ADMIN --security-opt seccomp=unconfined', () => {
    test('exit 0: a new PID namespace with the init works, and no seccomp filter is in force', async () => {
      const r = await run(['node', CLI, 'doctor', '--json'], { dockerArgs: ['--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined'] });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.ok).toBe(true);
      expect(report.checks.pidNamespace).toMatchObject({ ok: true, capSysAdmin: true });
      expect(report.checks.seccomp).toMatchObject({ mode: 0 });
      expect(report.checks.container.inContainer).toBe(true);
      const text = await run(['node', CLI, 'doctor'], { dockerArgs: ['--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined'] });
      expect(text.status).toBe(0);
      expect(text.stdout).toContain('\nok  new PID namespaces: a new namespace with the init works\n');
    });
  });
});
