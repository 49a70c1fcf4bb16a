// src-native/init/build.sh: the build without a C library must keep compiling, warning-free, as
// init.c grows. A failure there would not fail the build (build.sh falls back to a C library,
// with a warning), only make every init-mode spawn slower, so it is checked here. Its
// freestanding/ layer holds only what the init uses: the linker lists every section it discards
// as unused, and none may come from the init's own sources.
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

  if (!FREESTANDING_ARCHITECTURES.includes(process.arch)) {
    // Elsewhere there is no build without a C library: build.sh says so instead of making one.
    test('the build without a C library is refused on this architecture', () => {
      const made = build(path.join(dir, 'pidns-init'), 'nolibc');
      expect(made.status).not.toBe(0);
      expect(made.stderr).toMatch(/no freestanding build for/);
    });
  }
  (FREESTANDING_ARCHITECTURES.includes(process.arch) ? test : () => {})('the build without a C library compiles without a warning, holds no unused code, and runs', () => {
    const output = path.join(dir, 'pidns-init');
    // build.sh already links with -ffunction-sections -fdata-sections -Wl,--gc-sections; CC carries
    // the one flag more, as make's CC does.
    const made = build(output, 'nolibc', { ...process.env, CC: `${process.env.CC ?? 'cc'} -Wl,--print-gc-sections` });
    const lines = made.stderr.split('\n').filter((line) => line !== '');
    const discarded = lines.flatMap((line) => {
      const found = /removing unused section '([^']+)' in file '([^']+)'/.exec(line);
      return found ? [{ section: found[1], file: found[2] }] : [];
    });
    expect(lines.filter((line) => !/removing unused section/.test(line))).toEqual([]);
    // Members of libgcc.a ("libgcc.a(x.o)") are not the init's; every other object is init.c or
    // freestanding/*.c compiled.
    const unused = discarded.filter(({ file }) => !file.endsWith(')')).map(({ section }) => section);
    expect(unused).toEqual([]);
    expect(made.status).toBe(0);
    expect(made.stdout).toBe('pidns-init: nolibc build\n');
    expect(spawnSync(output, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^pidns-init \S+ \(nolibc build, (x86_64|aarch64)\)\n$/);
    const run = spawnSync(output, ['--', 'sh', '-c', 'exit 4'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(4);
  });

  test('the system C library build says which library it is and how it is linked', () => {
    const made = build(path.join(dir, 'system'), 'system');
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/^pidns-init: system build \(the system C library, (glibc|musl|bionic|uClibc), (static-pie|dynamic)\)\n$/);
    // --version says the same: the build, the C library and how it is linked.
    const [, libc, linked] = /, (\S+), (\S+)\)\n$/.exec(made.stdout)!;
    const version = spawnSync(path.join(dir, 'system'), ['--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(new RegExp(`^pidns-init \\S+ \\(system build, ${libc} ${linked}, \\S+\\)\n$`));
  });

  test.each([
    ['libc', 'system'],
    ['libc-dynamic', 'system-dynamic'],
  ])('the former name %s still builds %s', (former, current) => {
    const made = build(path.join(dir, former), former);
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(new RegExp(`^pidns-init: ${current} build \\(`));
    expect(spawnSync(path.join(dir, former), ['--version'], { encoding: 'utf8' }).stdout).toMatch(new RegExp(`^pidns-init \\S+ \\(${current} build, `));
  });

  test('PIDNS_INIT_VERSION, when set, is the version --version prints (a build from a copy without package.json)', () => {
    const output = path.join(dir, 'versioned');
    const made = build(output, 'system-dynamic', { ...process.env, PIDNS_INIT_VERSION: '1.2.3-test' });
    expect(made.status).toBe(0);
    expect(spawnSync(output, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^pidns-init 1\.2\.3-test \(system-dynamic build, /);
  });

  test('an unknown PIDNS_INIT_BUILD is refused', () => {
    const made = build(path.join(dir, 'unused'), 'bionic');
    expect(made.status).toBe(2);
    expect(made.stderr).toBe('PIDNS_INIT_BUILD must be nolibc, musl, system or system-dynamic, not bionic\n');
  });
});
