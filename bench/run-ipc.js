'use strict';
// Collected output and IPC, side by side with child_process in one run:
// runInPidNamespace('/bin/true') against util.promisify(execFile)('/bin/true'), and the round
// trip of one message over forkInPidNamespace()'s channel against child_process.fork()'s, for
// both serializations. Writes its table into BENCHMARKS.md under its own heading (replacing the
// section a previous run wrote) and prints it. Run as root after `npm run build`.
const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const { runInPidNamespace, forkInPidNamespace } = require('../dist');

const HEADING = '## Output collection and IPC';
const RUNS = Number(process.env.RUNS ?? 1000);
const ROUND_TRIPS = Number(process.env.ROUND_TRIPS ?? 10000);
const ECHO = path.join(__dirname, 'ipc-echo.js');
const execFile = util.promisify(childProcess.execFile);
const nowUs = () => Number(process.hrtime.bigint()) / 1000;

/** Nearest-rank percentile. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(Math.ceil((p / 100) * sorted.length), 1) - 1];
}

/** Interleaves the cases one run at a time, so drift on the machine affects each alike. */
async function timeInterleaved(cases, runs) {
  const samples = cases.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, c] of cases.entries()) {
      const start = nowUs();
      await c.run();
      samples[k].push(nowUs() - start);
    }
  }
  return samples;
}

function roundTrip(child) {
  const start = nowUs();
  const answered = new Promise((resolve) => child.once('message', resolve));
  child.send({ start });
  return answered.then(() => nowUs() - start);
}

/** Both children at once, one round trip each in turn, so drift affects both alike. */
async function ipcCases(serialization) {
  const children = [await forkPidns(serialization), await forkNode(serialization)];
  const samples = children.map(() => []);
  for (let i = 0; i < 200 + ROUND_TRIPS; i++) {
    for (const [k, child] of children.entries()) {
      const elapsed = await roundTrip(child);
      if (i >= 200) samples[k].push(elapsed);
    }
  }
  await Promise.all(children.map((child) => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    return exited;
  }));
  return { pidns: samples[0], node: samples[1] };
}

const forkPidns = (serialization) => forkInPidNamespace(ECHO, [], { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
const forkNode = (serialization) => Promise.resolve(childProcess.fork(ECHO, [], { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] }));

function row(name, samples, baseline) {
  const median = percentile(samples, 50);
  const ratio = baseline === undefined ? '1.00x' : `${(median / percentile(baseline, 50)).toFixed(2)}x`;
  return `| ${name} | ${median.toFixed(0)} µs | ${percentile(samples, 90).toFixed(0)} µs | ${percentile(samples, 99).toFixed(0)} µs | ${ratio} |`;
}

function writeSection(section) {
  const file = path.join(__dirname, '..', 'BENCHMARKS.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(`\n${HEADING}\n`);
  let updated;
  if (start < 0) {
    updated = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.indexOf('\n## ', start + HEADING.length + 2);
    updated = text.slice(0, start + 1) + section + (next < 0 ? '' : `\n${text.slice(next + 1)}`);
  }
  fs.writeFileSync(file, updated);
}

(async () => {
  const loadAtStart = os.loadavg()[0];
  const [pidnsRun, execFileRun] = await timeInterleaved(
    [{ run: () => runInPidNamespace('/bin/true') }, { run: () => execFile('/bin/true') }],
    RUNS,
  );
  const ipc = {};
  for (const serialization of ['json', 'advanced']) ipc[serialization] = await ipcCases(serialization);

  const header = '| case | median | p90 | p99 | × child_process |\n| --- | --- | --- | --- | --- |';
  const section = [
    HEADING,
    '',
    `Written by \`node bench/run-ipc.js\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} (Node ${process.version}, ${os.cpus().length} CPUs, Linux ${os.release()}, load average ${loadAtStart.toFixed(1)} when it began: other work on the machine widens p90 and p99).`,
    '',
    `Collecting the output of \`/bin/true\`, from the call to the settled promise; ${RUNS} runs of each, interleaved:`,
    '',
    header,
    row("runInPidNamespace('/bin/true') (init)", pidnsRun, execFileRun),
    row("util.promisify(execFile)('/bin/true')", execFileRun),
    '',
    `Round trip of one small message (\`send()\` to the echoed \`'message'\`) to a Node child that sends each message back; both children run at once and take turns, ${ROUND_TRIPS} round trips each after 200 to warm up:`,
    '',
    header,
    row('forkInPidNamespace, json', ipc.json.pidns, ipc.json.node),
    row('child_process.fork, json', ipc.json.node),
    row('forkInPidNamespace, advanced', ipc.advanced.pidns, ipc.advanced.node),
    row('child_process.fork, advanced', ipc.advanced.node),
    '',
  ].join('\n');
  writeSection(section);
  process.stdout.write(`${section}\n`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
