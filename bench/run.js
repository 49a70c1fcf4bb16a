#!/usr/bin/env node
'use strict';
// npm run bench [-- --quick | --render]
//
// Compares pidns with the usual ways of running a program in a PID namespace, in one Node
// process, and writes BENCHMARKS.md (a --quick run writes bench/out/BENCHMARKS.quick.md instead, so
// a smoke test never replaces real numbers). Needs root: every case creates a PID namespace.
// --render rewrites BENCHMARKS.md from the last full run's bench/out/results.json, e.g. after
// editing bench/ANALYSIS.md, without measuring again.
const fs = require('fs');
const path = require('path');
const { spawnInPidNamespace } = require('../dist');
const { caseCommands, makeCases, makeFloors } = require('./cases');
const { buildInits } = require('./inits');
const { latency, throughputWithLag, idleLag, holdMemory } = require('./measure');
const { memoryOf, verifyCases, initMemory, scale } = require('./processes');
const { render, readAnalysis, renderReadmeSummary } = require('./report');
const { OUT_DIR, REPO, log, ensureTools, buildFloor, describeEnvironment } = require('./setup');

const MiB = 2 ** 20;

const PARAMS = {
  full: { rounds: 20, perRound: 25, throughputMs: 3000, scaleCount: 1000 },
  quick: { rounds: 3, perRound: 5, throughputMs: 500, scaleCount: 100 },
};
// Heap levels in the order measured: memory can only be added, since freed Buffers need not
// return their pages to the kernel.
const HEAPS = [
  ['small', 0],
  ['256 MiB', 256 * MiB],
  ['1 GiB', 1024 * MiB],
];
const THROUGHPUT_CASES = ['pidns raw', 'pidns init', 'child_process.spawn'];
const IN_FLIGHT = [1, 8, 64];
// The event-loop lag goal is judged at this concurrency: enough to keep the loop always busy.
const LAG_IN_FLIGHT = 8;

const README_START = '<!-- bench:start (written by npm run bench) -->';
const README_END = '<!-- bench:end -->';

function writeReport(results) {
  const markdown = render(results, readAnalysis());
  const target = results.quick ? path.join(OUT_DIR, 'BENCHMARKS.quick.md') : path.join(REPO, 'BENCHMARKS.md');
  // The sections of bench/containers.js (its own run, in Docker) and bench/namespaces.js are kept
  // as they stand, each from its heading to its end marker.
  const previous = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  const kept = [
    /\n## In containers\n[\s\S]*?<!-- containers:end -->\n?/,
    /\n## Beyond the PID namespace\n[\s\S]*?<!-- namespaces:end -->\n?/,
  ]
    .map((section) => section.exec(previous)?.[0] ?? '')
    .join('');
  fs.writeFileSync(target, `${markdown}\n${kept}`);
  process.stdout.write(`${markdown}\n`);
  log(`wrote ${path.relative(process.cwd(), target) || target}`);
  if (results.quick) return;
  // The README's performance section quotes the same run, between its markers.
  const readmePath = path.join(REPO, 'README.md');
  const readme = fs.readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} ... ${README_END} region`);
  fs.writeFileSync(readmePath, `${readme.slice(0, start + README_START.length)}\n${renderReadmeSummary(results)}\n${readme.slice(end)}`);
  log('wrote the summary in README.md');
}

async function main() {
  if (process.argv.includes('--render')) {
    writeReport(JSON.parse(fs.readFileSync(path.join(OUT_DIR, 'results.json'), 'utf8')));
    return;
  }
  const quick = process.argv.includes('--quick');
  const params = quick ? PARAMS.quick : PARAMS.full;
  if (process.getuid() !== 0) throw new Error('run as root: every case creates a PID namespace');

  const tools = ensureTools();
  const floor = buildFloor();
  const inits = buildInits();
  const environment = describeEnvironment(tools);

  // The pod that 'pidns join' enters: a sleeping pid 1, as a pause process would be.
  const pod = await spawnInPidNamespace('/bin/sleep', ['100000'], { init: false, stdio: 'ignore' });
  const cases = makeCases(tools, pod.pid, inits);
  const floors = makeFloors(inits);
  const initBuilds = inits.builds.map(({ name, label, bytes }) => ({ name, label, bytes }));
  const results = { quick, params, environment, initBuilds, caseCommands: caseCommands(inits), lagInFlight: LAG_IN_FLIGHT, latency: {}, heapState: {} };

  log('checking that every case spawns what it claims');
  results.verified = await verifyCases(cases, floor, floors, inits, pod.pid);

  const held = [];
  for (const [heap, bytes] of HEAPS) {
    holdMemory(held, bytes);
    results.heapState[heap] = memoryOf('self');
    log(`latency, ${heap} heap (VmRSS ${(results.heapState[heap].vmRss / 1024).toFixed(0)} MiB)`);
    results.latency[heap] = await latency(cases, floor, floors, params, (done, total) => log(`  round ${done}/${total}`));

    if (heap === 'small') {
      log('throughput and event-loop lag');
      results.idleLag = await idleLag(params.throughputMs);
      results.throughput = [];
      for (const name of THROUGHPUT_CASES) {
        for (const inFlight of IN_FLIGHT) {
          results.throughput.push({ case: name, inFlight, ...(await throughputWithLag(cases[name], inFlight, params.throughputMs)) });
        }
      }
      log('init memory');
      results.initMemory = await initMemory(tools, inits);
      log(`scale: ${params.scaleCount} namespaces`);
      results.scale = await scale(params.scaleCount, (done, total) => log(`  ${done}/${total} started`));
    }
  }
  held.length = 0;
  pod.kill('SIGKILL');
  await pod.exited;

  fs.writeFileSync(path.join(OUT_DIR, quick ? 'results.quick.json' : 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
