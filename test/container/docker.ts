// Running the built init in Docker containers, for the tests in this folder. Every container runs
// with --network none and the checkout bind-mounted read-only at /pidns (so the init is
// /pidns/build/Release/pidns-init and the library /pidns/dist/), in the image that
// scripts/container-image.sh builds. Containers are named PREFIX<jest pid>-<n>; this module
// removes every one it started, and at start the leftovers of runs whose process is gone.
//
// Docker not reachable: under CI=true the tests fail with the reason, otherwise they are skipped
// with a message saying why.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..', '..');
/** The init inside a container. */
export const INIT = '/pidns/build/Release/pidns-init';
const PREFIX = 'pidns-test-';

export interface Result {
  /** The client's exit status: for `docker run`, the container's exit code. */
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the docker command. */
  ms: number;
}

/** Runs `docker ARGS...`; never rejects for a non-zero status, only for a timeout. */
export function docker(args: string[], timeoutMs = 30000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')}: no exit after ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** `docker ARGS...`, which must succeed; returns its stdout. */
async function dockerOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Whether a Docker daemon answers, and if not why (checked once, synchronously, for describe). */
function probeDocker(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 15000 });
  if (r.error) return { ok: false, reason: `docker: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `docker info exited ${r.status}: ${r.stderr.trim().split('\n').pop()}` };
  return { ok: true };
}

let docker_: ReturnType<typeof probeDocker> | undefined;
export function dockerReachable(): ReturnType<typeof probeDocker> {
  docker_ ??= probeDocker();
  return docker_;
}

let image_: Promise<string> | undefined;
/** The test image's name, from scripts/container-image.sh (which builds it when missing). */
export function image(): Promise<string> {
  image_ ??= new Promise((resolve, reject) => {
    const script = path.join(REPO, 'scripts', 'container-image.sh');
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const name = stdout.trim().split('\n').pop() ?? '';
      if (status === 0 && /^pidns-test:[0-9a-f]+$/.test(name)) resolve(name);
      else reject(new Error(`scripts/container-image.sh exited ${status}:\n${stderr}`));
    });
  });
  return image_;
}

/**
 * The bind mounts of the checkout. A node_modules that is a symbolic link (a git worktree
 * sharing another's) would point nowhere inside the container: its target is mounted at
 * /pidns/node_modules, read-only too.
 */
function mounts(): string[] {
  const args = ['-v', `${REPO}:/pidns:ro`];
  const modules = path.join(REPO, 'node_modules');
  if (fs.lstatSync(modules, { throwIfNoEntry: false })?.isSymbolicLink())
    args.push('-v', `${fs.realpathSync(modules)}:/pidns/node_modules:ro`);
  return args;
}

let serial = 0;
const started = new Set<string>();
const newName = () => `${PREFIX}${process.pid}-${++serial}`;

/** The options of every container: no network, the checkout, a name to clean up by. */
async function runArgs(name: string, dockerArgs: string[], command: string[]): Promise<string[]> {
  return ['--network', 'none', '--name', name, ...mounts(), ...dockerArgs, await image(), ...command];
}

export interface RunOptions {
  /** More `docker run` options (-t, --pid, --entrypoint...), placed before the image. */
  dockerArgs?: string[];
  timeoutMs?: number;
}

/** `docker run --rm` in the foreground: status is the container's exit code. */
export async function run(command: string[], options: RunOptions = {}): Promise<Result> {
  const name = newName();
  started.add(name);
  try {
    const r = await docker(['run', '--rm', ...(await runArgs(name, options.dockerArgs ?? [], command))], options.timeoutMs ?? 30000);
    started.delete(name);
    return r;
  } catch (error) {
    // The client timed out: the container may still run.
    await docker(['rm', '-f', name]).catch(() => undefined);
    started.delete(name);
    throw error;
  }
}

/** A process as /proc/PID/status shows it inside the container ("Name", "State", "PPid"...). */
export type ProcStatus = Record<string, string> & { Pid: string };

export function parseStatus(text: string): ProcStatus {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields as ProcStatus;
}

/**
 * A detached container. Not started with --rm, so that its exit code and output can be read
 * after it ends; removed by remove() or the cleanup after the tests.
 */
export class Container {
  constructor(readonly name: string) {}

  exec(command: string[], timeoutMs?: number): Promise<Result> {
    return docker(['exec', this.name, ...command], timeoutMs);
  }

  /** stdout and stderr so far, as one text. */
  async logs(): Promise<string> {
    const r = await docker(['logs', this.name]);
    return r.stdout + r.stderr;
  }

  async stdout(): Promise<string> {
    return (await docker(['logs', this.name])).stdout;
  }

  /** Waits until the output has a line with this text; returns the whole output. */
  async waitForLog(text: string, timeoutMs = 10000): Promise<string> {
    const end = Date.now() + timeoutMs;
    const has = (logs: string) => logs.split('\n').some((line) => line.includes(text));
    for (;;) {
      let logs = await this.logs();
      if (has(logs)) return logs;
      // Ended: the output is complete once it has (read again: the line may have come last).
      const running = (await dockerOk(['inspect', '--format', '{{.State.Running}}', this.name])).trim() === 'true';
      if (!running && has((logs = await this.logs()))) return logs;
      if (!running) throw new Error(`${this.name} exited ${await this.exitCode()} without a line with ${JSON.stringify(text)}; output:\n${logs}`);
      if (Date.now() > end) throw new Error(`${this.name}: no line with ${JSON.stringify(text)} after ${timeoutMs} ms; output:\n${logs}`);
      await sleep(100);
    }
  }

  /** `docker stop -t SECONDS`, timed; then the container's exit code. */
  async stop(seconds: number): Promise<{ ms: number; status: number }> {
    const r = await docker(['stop', '-t', String(seconds), this.name], (seconds + 30) * 1000);
    if (r.status !== 0) throw new Error(`docker stop ${this.name} exited ${r.status}: ${r.stderr}`);
    return { ms: r.ms, status: await this.exitCode() };
  }

  async kill(signal: string): Promise<void> {
    await dockerOk(['kill', '-s', signal, this.name]);
  }

  /** Waits for the container to end (docker wait) and returns its exit code. */
  async wait(timeoutMs = 30000): Promise<number> {
    return Number((await dockerOk(['wait', this.name], timeoutMs)).trim());
  }

  async exitCode(): Promise<number> {
    return Number((await dockerOk(['inspect', '--format', '{{.State.ExitCode}}', this.name])).trim());
  }

  /** /proc/PID/status inside the container; undefined once there is no such process. */
  async status(pid: number | string): Promise<ProcStatus | undefined> {
    const r = await this.exec(['cat', `/proc/${pid}/status`]);
    return r.status === 0 ? parseStatus(r.stdout) : undefined;
  }

  /**
   * Every process the container sees (its PID namespace, shared or not), from /proc: the status
   * fields plus Cmdline (the arguments, each followed by a space, trimmed). Includes the shell this reads them with.
   */
  async processes(): Promise<(ProcStatus & { Cmdline: string })[]> {
    const script = 'for d in /proc/[0-9]*; do printf "Cmdline:\\t"; tr "\\0" " " <"$d/cmdline"; echo; cat "$d/status"; echo; done 2>/dev/null';
    const r = await this.exec(['sh', '-c', script]);
    return r.stdout
      .split('\n\n')
      .map((block) => parseStatus(block) as ProcStatus & { Cmdline: string })
      .filter((p) => p.Pid !== undefined);
  }

  async remove(): Promise<void> {
    await docker(['rm', '-f', this.name]);
    started.delete(this.name);
  }
}

/** `docker run -d`: a container running COMMAND in the background. */
export async function start(command: string[], options: RunOptions = {}): Promise<Container> {
  const name = newName();
  started.add(name);
  await dockerOk(['run', '-d', ...(await runArgs(name, options.dockerArgs ?? [], command))], options.timeoutMs);
  return new Container(name);
}

/** Removes the containers of earlier runs whose jest process is gone (killed mid-test). */
async function removeLeftovers(): Promise<void> {
  const names = (await dockerOk(['ps', '-a', '--filter', `name=^/${PREFIX}`, '--format', '{{.Names}}'])).split('\n').filter(Boolean);
  const stale = names.filter((name) => {
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    return !(pid > 0 && fs.existsSync(`/proc/${pid}`));
  });
  if (stale.length > 0) await docker(['rm', '-f', ...stale]);
}

export async function removeAll(): Promise<void> {
  if (started.size > 0) await docker(['rm', '-f', ...started]);
  started.clear();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check returns a value other than undefined or false; throws after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * describe() for tests that need Docker: the build is checked and the image made (or found)
 * before them, and every container they started is removed after them. Without a daemon
 * that answers, the tests fail under CI=true and are skipped with a message otherwise.
 */
export function describeWithDocker(name: string, body: () => void): void {
  const reachable = dockerReachable();
  if (reachable.ok) {
    describe(name, () => {
      beforeAll(async () => {
        for (const built of ['build/Release/pidns-init', 'dist/index.js']) {
          if (!fs.existsSync(path.join(REPO, built))) throw new Error(`${built} is missing: run npm run build first`);
        }
        await removeLeftovers();
        await image();
      }, 15 * 60 * 1000);
      afterAll(removeAll, 60000);
      body();
    });
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      test('needs a Docker daemon (CI=true does not allow skipping)', () => {
        throw new Error(`"${name}" needs Docker, which is not reachable (${reachable.reason}); start it with scripts/docker-daemon.sh start`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": Docker is not reachable (${reachable.reason}); start it with scripts/docker-daemon.sh start`);
  describe.skip(name, body);
}

/** Capabilities by bit number, CAP_CHOWN (0) to CAP_AUDIT_READ (37): the ones every Docker since 17.x knows. */
const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE',
  'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE',
  'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
];

export interface Privileged {
  /** The `docker run` options. */
  args: string[];
  /** Why these are not just --privileged, or null when they are. */
  substitute: string | null;
}

let privileged_: Promise<Privileged> | undefined;
/**
 * The options of a privileged container: --privileged, where the daemon can start one. A daemon
 * that itself runs without some capability in its bounding set (a daemon inside another
 * container or a sandbox) fails with "unable to apply caps": there the nearest it can start is
 * used instead, every capability this process's bounding set has (--cap-add ALL, --cap-drop of
 * the others), no seccomp filter, no AppArmor profile and no masked /proc paths. What that lacks
 * of --privileged (the host's devices, a writable /sys, the dropped capabilities) is nothing a
 * PID namespace or a /proc mount needs.
 */
export function privileged(): Promise<Privileged> {
  privileged_ ??= (async () => {
    const tried = await run(['true'], { dockerArgs: ['--privileged'] });
    if (tried.status === 0) return { args: ['--privileged'], substitute: null };
    if (!/unable to apply caps/.test(tried.stderr)) throw new Error(`docker run --privileged exited ${tried.status}: ${tried.stderr.trim()}`);
    const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    const mask = BigInt(`0x${bounding ? bounding[1] : '0'}`);
    const missing = CAPABILITIES.filter((_, bit) => (mask & (1n << BigInt(bit))) === 0n);
    const args = ['--cap-add', 'ALL', ...missing.flatMap((cap) => ['--cap-drop', cap])];
    args.push('--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined');
    const check = await run(['true'], { dockerArgs: args });
    if (check.status !== 0) throw new Error(`docker run --privileged failed (${tried.stderr.trim()}), and so did ${args.join(' ')}: ${check.stderr.trim()}`);
    return { args, substitute: `docker run --privileged fails here (${tried.stderr.trim().split('\n')[0]}); used instead: ${args.join(' ')}` };
  })();
  return privileged_;
}
