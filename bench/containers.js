#!/usr/bin/env node
'use strict';
// node bench/containers.js [--runs N | --render]
//
// Inits as the entrypoint of a Docker container, side by side in one run: how long
// `docker stop -t 10` takes with each, and the memory of pid 1 (VmRSS from /proc/1/status inside
// the container) and the size of its binary. Every container runs a tiny HTTP server on its
// loopback (no network: --network none; nothing connects to it) under: nothing (node is pid 1),
// pidns-init, tini, dumb-init, catatonit and `docker run --init` (Docker's own tini). The cases
// are interleaved, round after round, so a change of load hits them all alike.
//
// Needs a Docker daemon (scripts/docker-daemon.sh start) and `npm run build` (the init is the
// checkout's build/Release/pidns-init, mounted read-only at /pidns). The image comes from
// scripts/container-image.sh. Writes bench/out/containers.json, and a table between the
// <!-- containers:start --> and <!-- containers:end --> lines of BENCHMARKS.md (a section
// "## In containers" with those lines is added at its end when it has none). --render rewrites
// that section from the last bench/out/containers.json without measuring again.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { OUT_DIR, REPO, log } = require('./setup');

const START = '<!-- containers:start -->';
const END = '<!-- containers:end -->';
const STOP_TIMEOUT_S = 10;
const PREFIX = 'pidns-bench-';
const SERVER = "require('http').createServer((q, s) => s.end('ok')).listen(8080, '127.0.0.1', () => console.log('listening'))";
const NODE = ['node', '-e', SERVER];

// name, the entrypoint and arguments, more `docker run` options, pid 1's expected Name, its
// binary inside the container (null: pid 1 is node itself).
const CASES = [
  { name: 'node as pid 1', command: NODE, dockerArgs: [], pid1: 'node', binary: null },
  { name: 'pidns-init', command: ['/pidns/build/Release/pidns-init', '--', ...NODE], dockerArgs: [], pid1: 'pidns-init', binary: '/pidns/build/Release/pidns-init' },
  { name: 'tini', command: ['tini', '--', ...NODE], dockerArgs: [], pid1: 'tini', binary: '/usr/bin/tini' },
  { name: 'dumb-init', command: ['dumb-init', ...NODE], dockerArgs: [], pid1: 'dumb-init', binary: '/usr/bin/dumb-init' },
  { name: 'catatonit', command: ['catatonit', '--', ...NODE], dockerArgs: [], pid1: 'catatonit', binary: '/usr/bin/catatonit' },
  { name: 'docker run --init', command: NODE, dockerArgs: ['--init'], pid1: 'docker-init', binary: '/sbin/docker-init' },
];

function docker(args, { check = true, timeoutMs = 60000 } = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: timeoutMs });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.error) throw new Error(`docker ${args.join(' ')}: ${r.error.message}`);
  if (check && r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms };
}

function image() {
  const r = spawnSync('bash', [path.join(REPO, 'scripts', 'container-image.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const name = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !/^pidns-test:[0-9a-f]+$/.test(name)) throw new Error(`scripts/container-image.sh exited ${r.status}`);
  return name;
}

const sleepMs = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function waitForLine(name, text, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = docker(['logs', name], { check: false });
    if (`${r.stdout}${r.stderr}`.includes(text)) return;
    if (Date.now() > end) throw new Error(`${name}: no ${JSON.stringify(text)} after ${timeoutMs} ms: ${r.stdout}${r.stderr}`);
    sleepMs(50);
  }
}

const statusField = (text, field) => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1];

let serial = 0;
/** One container of a case: start, wait for the server, read pid 1, time the stop. */
function measure(img, c, sizes) {
  const name = `${PREFIX}${process.pid}-${++serial}`;
  try {
    docker(['run', '-d', '--network', 'none', '--name', name, '-v', `${REPO}:/pidns:ro`, ...c.dockerArgs, img, ...c.command]);
    waitForLine(name, 'listening');
    const status = docker(['exec', name, 'cat', '/proc/1/status']).stdout;
    const pid1 = statusField(status, 'Name');
    if (pid1 !== c.pid1) throw new Error(`${c.name}: pid 1 is ${pid1}, expected ${c.pid1}`);
    if (c.binary && !(c.name in sizes)) sizes[c.name] = Number(docker(['exec', name, 'stat', '-L', '-c', '%s', c.binary]).stdout.trim());
    const vmRssKb = Number(statusField(status, 'VmRSS').replace(/ kB$/, ''));
    const stop = docker(['stop', '-t', String(STOP_TIMEOUT_S), name], { timeoutMs: (STOP_TIMEOUT_S + 60) * 1000 });
    const exitCode = Number(docker(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim());
    return { stopMs: stop.ms, exitCode, vmRssKb };
  } finally {
    docker(['rm', '-f', name], { check: false });
  }
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

function describeEnvironment(img) {
  const versions = docker(['version', '--format', '{{.Server.Version}}|{{.Client.Version}}|{{.Server.APIVersion}}']).stdout.trim().split('|');
  const info = docker(['info', '--format', '{{.CgroupVersion}}|{{.CgroupDriver}}|{{.DefaultRuntime}}|{{.Driver}}']).stdout.trim().split('|');
  // One line each: the inits' own --version, and the image's Node.
  const script = 'node --version; tini --version; dumb-init --version 2>&1; catatonit --version 2>&1 | head -n 1; /sbin/docker-init --version';
  const inside = docker(['run', '--rm', '--network', 'none', '--init', img, 'sh', '-c', script]).stdout.trim().split('\n');
  const git = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: `${os.release()} (${os.version()})`,
    cores: os.cpus().length,
    docker: { server: versions[0], client: versions[1], api: versions[2], cgroup: `v${info[0]} (${info[1]})`, runtime: info[2], storage: info[3] },
    image: img,
    imageNode: inside[0],
    inits: { tini: inside[1], 'dumb-init': inside[2], catatonit: inside[3], 'docker-init': inside[4] },
    pidns: git || 'unknown',
    loadAverageBefore: os.loadavg().map((v) => v.toFixed(2)).join(' '),
  };
}

const range = (s, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const size = (bytes) => (bytes === undefined ? '—' : bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`);

/** A paragraph broken into lines of at most 100 characters, as BENCHMARKS.md is written. */
function wrap(text, width = 100) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

function render(r) {
  const env = r.environment;
  const rows = r.cases.map((c) => {
    const codes = [...new Set(c.runs.map((x) => x.exitCode))].join(', ');
    return `| ${c.name} | ${range(c.stopMs)} | ${codes} | ${range(c.vmRssKb)} | ${size(c.binaryBytes)} |`;
  });
  return [
    wrap(`Written by \`node bench/containers.js\` on ${env.date}: ${r.runs} runs of each case, interleaved. Each container runs ` +
      `a tiny Node HTTP server (\`node -e\`, listening on its loopback, --network none) under the init named, in ${env.image} ` +
      `(Debian bookworm, Node ${env.imageNode}); the stop is \`docker stop -t ${STOP_TIMEOUT_S}\`, timed from the client. ` +
      'Median (min–max).'),
    '',
    wrap(`Machine: Linux ${env.kernel}, ${env.cores} cores; Docker ${env.docker.server} (client ${env.docker.client}, API ` +
      `${env.docker.api}), cgroup ${env.docker.cgroup}, ${env.docker.runtime}, ${env.docker.storage}; load average ` +
      `${env.loadAverageBefore} before, ${env.loadAverageAfter} after; pidns ${env.pidns}. Versions: ${Object.entries(env.inits).map(([k, v]) => `${k}: ${v}`).join('; ')}.`),
    '',
    '| entrypoint | docker stop, ms | exit code | VmRSS of pid 1, kB | init binary |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    wrap(`Node as pid 1 gets no default action for SIGTERM (the kernel's rule for a namespace's init), so \`docker stop\` waits ` +
      `the whole ${STOP_TIMEOUT_S} s and then sends SIGKILL (exit 137); under an init, node gets the SIGTERM and dies of it ` +
      '(exit 143). For node as pid 1 the VmRSS is node\'s own. docker run --init mounts the daemon\'s docker-init at ' +
      '/sbin/docker-init (here Debian\'s tini-static). Debian\'s tini and dumb-init are linked dynamically: their ' +
      'size leaves out the C library, which their VmRSS counts; catatonit and docker-init are static glibc builds, ' +
      'and pidns-init is static too (its default build has no C library).'),
  ].join('\n');
}

function writeMarkdown(markdown) {
  const file = path.join(REPO, 'BENCHMARKS.md');
  let text = fs.readFileSync(file, 'utf8');
  if (!text.includes(START) || !text.includes(END) || text.indexOf(END) < text.indexOf(START)) {
    text = `${text.replace(/\n*$/, '\n')}\n## In containers\n\n${START}\n${END}\n`;
  }
  const start = text.indexOf(START) + START.length;
  const end = text.indexOf(END);
  fs.writeFileSync(file, `${text.slice(0, start)}\n${markdown}\n${text.slice(end)}`);
}

function main() {
  if (process.argv.includes('--render')) {
    writeMarkdown(render(JSON.parse(fs.readFileSync(path.join(OUT_DIR, 'containers.json'), 'utf8'))));
    log('wrote the "In containers" section of BENCHMARKS.md from bench/out/containers.json');
    return;
  }
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
  if (!(runs > 0)) throw new Error('--runs needs a count');
  const reachable = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 15000 });
  if (reachable.status !== 0) throw new Error(`Docker is not reachable (${(reachable.stderr || String(reachable.error)).trim()}); start it with scripts/docker-daemon.sh start`);
  if (!fs.existsSync(path.join(REPO, 'build', 'Release', 'pidns-init'))) throw new Error('build/Release/pidns-init is missing: run npm run build');

  // Leftovers of a run that was killed (whose process is gone).
  const leftovers = docker(['ps', '-a', '--filter', `name=^/${PREFIX}`, '--format', '{{.Names}}'])
    .stdout.split('\n')
    .filter((n) => n && !fs.existsSync(`/proc/${Number(n.slice(PREFIX.length).split('-')[0])}`));
  if (leftovers.length > 0) docker(['rm', '-f', ...leftovers], { check: false });

  const img = image();
  const environment = describeEnvironment(img);
  log(`${CASES.length} cases, ${runs} runs each, in ${img}`);
  const sizes = {};
  const measured = Object.fromEntries(CASES.map((c) => [c.name, []]));
  for (let round = 1; round <= runs; round++) {
    for (const c of CASES) {
      const m = measure(img, c, sizes);
      measured[c.name].push(m);
      log(`round ${round}/${runs}, ${c.name}: stop ${m.stopMs.toFixed(0)} ms, exit ${m.exitCode}, VmRSS ${m.vmRssKb} kB`);
    }
  }
  environment.loadAverageAfter = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  const results = {
    runs,
    // render() reads only what is stored here, so the JSON alone can rebuild the table.
    stopTimeoutSeconds: STOP_TIMEOUT_S,
    environment,
    cases: CASES.map((c) => ({
      name: c.name,
      command: [...(c.dockerArgs.length ? ['docker run', ...c.dockerArgs] : []), ...c.command].join(' '),
      pid1: c.pid1,
      binary: c.binary,
      binaryBytes: sizes[c.name],
      stopMs: summary(measured[c.name].map((m) => m.stopMs)),
      vmRssKb: summary(measured[c.name].map((m) => m.vmRssKb)),
      runs: measured[c.name],
    })),
  };
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.writeFileSync(path.join(OUT_DIR, 'containers.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = render(results);
  writeMarkdown(markdown);
  process.stdout.write(`${markdown}\n`);
  log('wrote bench/out/containers.json and the "In containers" section of BENCHMARKS.md');
}

main();
