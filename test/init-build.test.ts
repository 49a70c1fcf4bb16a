// src-native/init/build.sh: the build without a C library must keep compiling, warning-free, as
// init.c grows. A failure there would not fail the build (build.sh falls back to a C library,
// with a warning), only make every init-mode spawn slower, so it is checked here.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const BUILD_SCRIPT = path.resolve(__dirname, '../src-native/init/build.sh');
const FREESTANDING_ARCHITECTURES = ['x64', 'arm64'];

describe('building pidns-init', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-init-build-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const onFreestandingArchitecture = FREESTANDING_ARCHITECTURES.includes(process.arch) ? test : test.skip;
  onFreestandingArchitecture('the build without a C library compiles without a warning and runs', () => {
    const output = path.join(dir, 'pidns-init');
    const build = spawnSync('sh', [BUILD_SCRIPT, output], { env: { ...process.env, PIDNS_INIT_BUILD: 'nolibc' }, encoding: 'utf8' });
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    expect(build.stdout).toBe('pidns-init: nolibc build\n');
    const run = spawnSync(output, ['--', 'sh', '-c', 'exit 4'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(4);
  });

  test('an unknown PIDNS_INIT_BUILD is refused', () => {
    const build = spawnSync('sh', [BUILD_SCRIPT, path.join(dir, 'unused')], { env: { ...process.env, PIDNS_INIT_BUILD: 'bionic' }, encoding: 'utf8' });
    expect(build.status).toBe(2);
    expect(build.stderr).toBe('PIDNS_INIT_BUILD must be nolibc, musl, libc or libc-dynamic, not bionic\n');
  });
});
