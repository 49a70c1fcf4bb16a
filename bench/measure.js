'use strict';
// Timing: sequential latency in interleaved rounds, throughput at a fixed number in flight with
// the event-loop lag seen meanwhile, and the memory the process is made to hold.
const { spawn } = require('child_process');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');
const { floorRun } = require('./cases');

const PAGE = 4096;
const CHUNK = 64 * 2 ** 20;
// The histogram records the full interval between ticks of a timer firing every RESOLUTION_MS,
// so an idle loop shows RESOLUTION_MS; the lag is what exceeds it.
const RESOLUTION_MS = 1;

const nowUs = () => Number(process.hrtime.bigint()) / 1000;

/** Nearest-rank percentile; `values` need not be sorted. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1];
}

function summarize(samples, roundMedians) {
  return {
    n: samples.length,
    median: percentile(samples, 50),
    p10: percentile(samples, 10),
    p90: percentile(samples, 90),
    roundMin: Math.min(...roundMedians),
    roundMax: Math.max(...roundMedians),
  };
}

async function timeSequential(run, count) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = nowUs();
    const status = await run('/bin/true', [], false);
    samples.push(nowUs() - start);
    if (status.code !== 0) throw new Error(`/bin/true ended with ${JSON.stringify(status)}`);
  }
  return samples;
}

/**
 * Spawn-to-exit of /bin/true, one at a time. Each round runs `perRound` spawns of every case in
 * turn; the order rotates every round so no case always follows the same neighbour, and drift of
 * the machine over the run (other load, caches) is spread over all cases alike. One untimed round
 * first warms up every path.
 */
async function latency(cases, floor, floors, { rounds, perRound }, progress) {
  const names = [...Object.keys(cases), ...Object.keys(floors)];
  const runOne = (name, count) =>
    name in floors ? floorRun(floor, floors[name], count).then((r) => r.samplesUs) : timeSequential(cases[name], count);
  for (const name of names) await runOne(name, 2);

  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const medians = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      const got = await runOne(name, perRound);
      samples[name].push(...got);
      medians[name].push(percentile(got, 50));
    }
    progress?.(round + 1, rounds);
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n], medians[n])]));
}

function lagOf(histogram) {
  const lag = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  return { lagP50: lag(histogram.percentile(50)), lagP99: lag(histogram.percentile(99)), lagMax: lag(histogram.max), ticks: histogram.count };
}

/**
 * Resolves once the histogram's timer has fired again. Its first tick only starts the clock, so
 * this is awaited before a measurement; a stall is recorded at the tick after it, so also after.
 */
const afterLoopTurn = () => new Promise((resolve) => setTimeout(resolve, 2 * RESOLUTION_MS));

/**
 * Keeps `inFlight` spawns of /bin/true running for `durationMs`; returns spawns per second and
 * the event-loop lag (ms) over the same period. A loop that never gets back to its timers while
 * spawning yields few ticks, each as long as the stall.
 */
async function throughputWithLag(run, inFlight, durationMs) {
  const neighbor = startNeighbor(durationMs);
  await neighbor.ready;
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  await afterLoopTurn();
  let done = 0;
  const start = nowUs();
  const deadline = start + durationMs * 1000;
  const worker = async () => {
    while (nowUs() < deadline) {
      const status = await run('/bin/true', [], false);
      if (status.code !== 0) throw new Error(`/bin/true ended with ${JSON.stringify(status)}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (nowUs() - start) / 1e6;
  await afterLoopTurn();
  histogram.disable();
  return { perSecond: done / seconds, ...lagOf(histogram), neighbor: await neighbor.lag };
}

/** bench/neighbor-lag.js, started: resolves `ready` once it measures, `lag` with what it measured. */
function startNeighbor(durationMs) {
  const child = spawn(process.execPath, [path.join(__dirname, 'neighbor-lag.js'), String(durationMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let readyResolve;
  const ready = new Promise((resolve) => (readyResolve = resolve));
  child.stdout.on('data', (d) => {
    out += d;
    if (out.startsWith('ready\n')) readyResolve();
  });
  const lag = new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      readyResolve();
      const line = out.split('\n')[1];
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`bench/neighbor-lag.js exited ${code}`));
    });
  });
  return { ready, lag };
}

/** The lag of an idle loop, as the reference for the numbers above. */
async function idleLag(durationMs) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  await afterLoopTurn();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  await afterLoopTurn();
  histogram.disable();
  return lagOf(histogram);
}

/**
 * Grows `held` (an array of Buffers kept alive by the caller) to `bytes` in total. Every page is
 * written, so each is really mapped and has a page-table entry: that is what fork() copies.
 */
function holdMemory(held, bytes) {
  let total = held.reduce((sum, b) => sum + b.length, 0);
  while (total < bytes) {
    const chunk = Buffer.alloc(Math.min(CHUNK, bytes - total));
    for (let i = 0; i < chunk.length; i += PAGE) chunk[i] = 1;
    held.push(chunk);
    total += chunk.length;
  }
}

module.exports = { latency, throughputWithLag, idleLag, holdMemory };
