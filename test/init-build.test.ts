// src-native/init/build.sh: the build without a C library must keep compiling, warning-free, as
// init.c grows. A failure there would not fail the build (build.sh falls back to a C library,
// with a warning), only make every init-mode spawn slower, so it is checked here.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const BUILD_SCRIPT = path.resolve(__dirname, '../src-native/init/build.sh');
const FREESTANDING_ARCHITECTURES = ['x64', 'arm64'];

function build(output: string, variant: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync('sh', [BUILD_SCRIPT, output], { env: { ...env, PIDNS_INIT_BUILD: variant }, encoding: 'utf8' });
}

describe('building pidns-init', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-init-build-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const onFreestandingArchitecture = FREESTANDING_ARCHITECTURES.includes(process.arch) ? test : test.skip;
  onFreestandingArchitecture('the build without a C library compiles without a warning and runs', () => {
    const output = path.join(dir, 'pidns-init');
    const made = build(output, 'nolibc');
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toBe('pidns-init: nolibc build\n');
    const run = spawnSync(output, ['--', 'sh', '-c', 'exit 4'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(4);
  });

  test('the system C library build says which library it is and how it is linked', () => {
    const made = build(path.join(dir, 'system'), 'system');
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/^pidns-init: system build \(the system C library, (glibc|musl|bionic|uClibc), (static-pie|dynamic)\)\n$/);
  });

  test.each([
    ['libc', 'system'],
    ['libc-dynamic', 'system-dynamic'],
  ])('the former name %s still builds %s', (former, current) => {
    const made = build(path.join(dir, former), former);
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(new RegExp(`^pidns-init: ${current} build \\(`));
  });

  test('an unknown PIDNS_INIT_BUILD is refused', () => {
    const made = build(path.join(dir, 'unused'), 'bionic');
    expect(made.status).toBe(2);
    expect(made.stderr).toBe('PIDNS_INIT_BUILD must be nolibc, musl, system or system-dynamic, not bionic\n');
  });
});
