'use strict';
// Spawn cost without close_range. The child marks every descriptor above its stdio close-on-exec
// before it execs; with close_range (Linux 5.9) that is one call, and without it (older kernels,
// container profiles that refuse it) the cost must not grow with RLIMIT_NOFILE, which Node raises
// to the hard limit at start (2^20 in many containers). Each row runs the same spawns twice, in a
// Node whose limit is set with prlimit, under test/fixtures/seccomp-exec.c: once refusing nothing,
// once refusing close_range with ENOSYS. Goal: the refused run within 1.2x of the normal one.
//
//   node bench/close-range.js [--spawns N]     (root, to raise the hard limit; prints a markdown table)
//
// Spawn cost is spawn-to-exit of /bin/true, one at a time: the descriptor work happens in the
// child before execve, while the spawning thread waits for it (a vfork-style clone).
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const GOAL = 1.2;
const MODERATE_LIMIT = 20000;
const WARMUP = 20;

const nowUs = () => Number(process.hrtime.bigint()) / 1000;

/** Nearest-rank percentile, as bench/measure.js computes it. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1];
}

// ---- the measuring process (run under prlimit, and under the loader for the refused runs) ----

async function measure(count) {
  const { spawnInPidNamespace } = require('../dist');
  const once = async (init) => {
    const start = nowUs();
    const child = await spawnInPidNamespace('/bin/true', [], { init, stdio: 'ignore' });
    const status = await child.exited;
    const elapsed = nowUs() - start;
    if (status.code !== 0) throw new Error(`/bin/true ended with ${JSON.stringify(status)}`);
    return elapsed;
  };
  const samples = { raw: [], init: [] };
  for (let i = 0; i < WARMUP; i++) {
    await once(false);
    await once(true);
  }
  // Alternating, so that drift of the machine over the run touches both modes alike.
  for (let i = 0; i < count; i++) {
    samples.raw.push(await once(false));
    samples.init.push(await once(true));
  }
  const limits = fs.readFileSync('/proc/self/limits', 'latin1').split('\n').find((l) => l.startsWith('Max open files'));
  const seccomp = /^Seccomp:\s*(\d)/m.exec(fs.readFileSync('/proc/self/status', 'latin1'))[1];
  process.stdout.write(`${JSON.stringify({ samples, openFilesLimit: Number(limits.split(/\s+/)[3]), seccomp })}\n`);
}

// ---- the driver --------------------------------------------------------------------------------

function compileLoader() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-bench-seccomp-'));
  const loader = path.join(dir, 'seccomp-exec');
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', loader, path.join(__dirname, '..', 'test', 'fixtures', 'seccomp-exec.c')], { stdio: 'inherit' });
  return { dir, loader };
}

/**
 * The largest RLIMIT_NOFILE a child of ours can have: fs.nr_open where we may raise the hard limit
 * (CAP_SYS_RESOURCE, which root in a container may lack), our own hard limit otherwise.
 */
function highestLimit() {
  const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  if (spawnSync('prlimit', [`--nofile=${nrOpen}:${nrOpen}`, '--', 'true'], { stdio: 'ignore' }).status === 0) return { limit: nrOpen, raised: true };
  const line = fs.readFileSync('/proc/self/limits', 'latin1').split('\n').find((l) => l.startsWith('Max open files'));
  return { limit: Number(line.split(/\s+/)[4]), raised: false };
}

function run(limit, loader, refuse, count) {
  // Both runs go through the filter (empty for the normal one), so that the only difference
  // between them is close_range, not the filter's cost on every system call.
  const command = ['prlimit', `--nofile=${limit}:${limit}`, '--', loader];
  if (refuse) command.push('--enosys', 'close_range');
  command.push('--', process.execPath, __filename, '--measure', String(count));
  const result = spawnSync(command[0], command.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${command.join(' ')} exited ${result.status ?? result.signal}`);
  const report = JSON.parse(result.stdout);
  if (report.openFilesLimit !== limit) throw new Error(`asked for RLIMIT_NOFILE ${limit}, the measuring process has ${report.openFilesLimit}`);
  if (report.seccomp !== '2') throw new Error(`seccomp mode ${report.seccomp} in the measuring process: the filter is not there`);
  return report.samples;
}

function main() {
  const spawnsArg = process.argv.indexOf('--spawns');
  const count = spawnsArg > 0 ? Number(process.argv[spawnsArg + 1]) : 300;
  if (!Number.isInteger(count) || count < 1) throw new Error('--spawns takes a positive integer');
  const { dir, loader } = compileLoader();
  const highest = highestLimit();
  // The usual default soft limit too, to show how the cost grows with the limit.
  const limits = [...new Set([highest.limit, MODERATE_LIMIT, 1024])].filter((l) => l <= highest.limit);
  const rows = [];
  try {
    for (const limit of limits) {
      process.stderr.write(`RLIMIT_NOFILE ${limit}: with close_range...\n`);
      const normal = run(limit, loader, false, count);
      process.stderr.write(`RLIMIT_NOFILE ${limit}: close_range refused (ENOSYS)...\n`);
      const refused = run(limit, loader, true, count);
      for (const mode of ['raw', 'init']) rows.push({ limit, mode, normal: normal[mode], refused: refused[mode] });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const us = (v) => `${Math.round(v)} µs`;
  const lines = [
    `Spawn-to-exit of /bin/true, ${count} spawns per mode after ${WARMUP} untimed, one at a time (Node ${process.version}, Linux ${os.release()}, ${os.cpus().length} CPUs).`,
    highest.raised
      ? `The highest limit is fs.nr_open (${highest.limit}).`
      : `The hard limit could not be raised above ${highest.limit} here (no CAP_SYS_RESOURCE): that is the highest row.`,
    '',
    '| RLIMIT_NOFILE | mode | close_range: median | p90 | refused (ENOSYS): median | p90 | ratio (median) | goal ≤ 1.2x |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const ratio = percentile(row.refused, 50) / percentile(row.normal, 50);
    const mode = row.mode === 'raw' ? 'raw (`init: false`)' : 'under the init';
    lines.push(`| ${row.limit} | ${mode} | ${us(percentile(row.normal, 50))} | ${us(percentile(row.normal, 90))} | ${us(percentile(row.refused, 50))} | ${us(percentile(row.refused, 90))} | ${ratio.toFixed(2)}x | ${ratio <= GOAL ? 'met' : 'missed'} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[2] === '--measure') {
  measure(Number(process.argv[3])).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
} else {
  main();
}
