#!/usr/bin/env node
'use strict';
// npm run bench:namespaces [-- --rounds N --per-round N | --render]
//
// The cost of the namespaces option, side by side in one run: pidns with all six other namespaces
// (cgroup, ipc, mnt, net, time, uts) under its init and with init: false, against
// `unshare --pid --fork` with the same six and bubblewrap with the five it has (no time
// namespace; it always makes a mount namespace); then pidns with only its PID namespace, and with
// one kind at a time, to show what each kind adds. Every case is spawn-to-exit of /bin/true, one
// at a time, in interleaved rounds (bench/measure.js's latency()). The external tools are spawned
// with child_process.spawn, as bench/run.js does.
//
// Needs root (unshare and bwrap as used here, and pidns without userNamespace) and bubblewrap
// (bench/setup.js installs util-linux and bubblewrap with apt-get when missing). Writes
// bench/out/namespaces.json and a section between <!-- namespaces:start --> and
// <!-- namespaces:end --> in BENCHMARKS.md (added at its end when missing; bench/run.js keeps it),
// and a summary between README.md's namespaces-bench markers. --render rewrites both from the
// last bench/out/namespaces.json without measuring.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { viaPidns, viaChildProcess } = require('./cases');
const { latency } = require('./measure');
const { tuning } = require('../dist/native');
const { OUT_DIR, REPO, log, ensureTools, describeEnvironment } = require('./setup');

const START = '<!-- namespaces:start -->';
const END = '<!-- namespaces:end -->';
const HEADING = '## Beyond the PID namespace';
const README_START = '<!-- namespaces-bench:start (written by npm run bench:namespaces) -->';
const README_END = '<!-- namespaces-bench:end -->';
// The rows the README quotes, with its labels.
const README_ROWS = [
  ['pidns, all six', 'pidns, all six (under its init)'],
  ['pidns, all six, init: false', 'pidns, all six, `init: false`'],
  ['pidns, all six, net made in the clone', 'pidns, all six, no network namespace made ahead'],
  ['unshare, all six', '`unshare --pid --fork` with the same six'],
  ['bwrap, all but time', 'bubblewrap, all but time (it has none)'],
  ['pidns, pid only', 'pidns, the PID namespace only'],
];
const KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'time', 'uts'];
// The goal: pidns with all six, under its init, against unshare with the same six.
const GOAL = { case: 'pidns, all six', against: 'unshare, all six', target: 0.5 };
// 13 cases x ROUNDS x PER_ROUND spawns of 1 to 8 ms each: about 2 minutes on a 2-core VM.
const DEFAULTS = { rounds: 20, perRound: 80 };

/** A case whose spawns make their network namespace in the clone, not one made ahead. */
function inColdNetwork(run) {
  return async (...args) => {
    tuning.warmNetwork = false;
    try {
      return await run(...args);
    } finally {
      tuning.warmNetwork = true;
    }
  };
}

/**
 * The cases, what each runs (for the report), and their two tables: all six against the tools,
 * and the PID namespace alone (the baseline) then one kind at a time.
 */
function makeNamespaceCases(tools) {
  const all = [...KINDS];
  const unshareFlags = ['--pid', '--fork', '--mount', '--uts', '--ipc', '--net', '--cgroup', '--time'];
  const bwrapFlags = ['--unshare-pid', '--unshare-uts', '--unshare-ipc', '--unshare-net', '--unshare-cgroup', '--dev-bind', '/', '/'];
  const list = (kinds) => `[${kinds.map((k) => `'${k}'`).join(', ')}]`;
  const defs = [
    ['all', 'pidns, all six', viaPidns({ namespaces: all }), `spawnInPidNamespace('/bin/true', [], { namespaces: ${list(all)} }), under pidns-init`],
    ['all', 'pidns, all six, net made in the clone', inColdNetwork(viaPidns({ namespaces: all })), 'the same with `PIDNS_NO_WARM_NETWORK=1`: no network namespace made ahead'],
    ['all', 'pidns, all six, init: false', viaPidns({ namespaces: all, init: false }), 'the same with `init: false`'],
    ['all', 'unshare, all six', viaChildProcess([tools.unshare, ...unshareFlags]), `\`unshare ${unshareFlags.join(' ')} /bin/true\``],
    ['all', 'bwrap, all but time', viaChildProcess([tools.bwrap, ...bwrapFlags]), `\`bwrap ${bwrapFlags.join(' ')} /bin/true\``],
    ['single', 'pidns, pid only', viaPidns({}), "spawnInPidNamespace('/bin/true'), under pidns-init"],
    ['single', 'pidns, pid only, init: false', viaPidns({ init: false }), 'the same with `init: false`'],
    ...KINDS.map((k) => ['single', `pidns, + ${k}`, viaPidns({ namespaces: [k] }), `\`namespaces: ['${k}']\`, under pidns-init`]),
  ];
  return {
    cases: Object.fromEntries(defs.map(([, name, run]) => [name, run])),
    commands: Object.fromEntries(defs.map(([, name, , text]) => [name, text])),
    groups: {
      all: defs.filter(([g]) => g === 'all').map(([, name]) => name),
      single: defs.filter(([g]) => g === 'single').map(([, name]) => name),
    },
  };
}

/** Which of Node's namespaces (pid and the six) the command run by `run` does not share. */
async function newNamespacesOf(run) {
  const kinds = ['pid', ...KINDS];
  // time: a process that unshares it stays where it was and its children enter it, so the
  // command's own link is what counts, read by the command itself.
  const script = kinds.map((k) => `readlink /proc/self/ns/${k}`).join('; ');
  const { code, stdout } = await run('/bin/sh', ['-c', script], true);
  if (code !== 0) throw new Error(`the namespace check exited ${code}`);
  const links = stdout.trim().split('\n');
  return kinds.filter((k, i) => links[i] !== fs.readlinkSync(`/proc/self/ns/${k}`));
}

const us = (v) => v.toFixed(0);
const ratio = (v) => `${v.toFixed(2)}x`;

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
  const rows = r.latency;
  const base = rows['pidns, pid only'].median;
  const unshare = rows[GOAL.against].median;
  const measured = rows[GOAL.case].median / unshare;
  const table = (names) => [
    '| case | what runs | new namespaces (checked) | median µs | p90 µs | round medians µs | × pid only | × unshare |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...names.map((n) => {
      const s = rows[n];
      return `| ${n} | ${r.commands[n]} | ${r.verified[n].join(', ')} | ${us(s.median)} | ${us(s.p90)} | ${us(s.roundMin)}–${us(s.roundMax)} | ${ratio(s.median / base)} | ${ratio(s.median / unshare)} |`;
    }),
  ];
  const added = KINDS.map((k) => [k, rows[`pidns, + ${k}`].median - base]).sort((a, b) => b[1] - a[1]);
  const net = rows['pidns, + net'].median - base;
  const sum = added.reduce((total, [, v]) => total + v, 0);
  return [
    wrap(
      `Written by \`npm run bench:namespaces\` (bench/namespaces.js) on ${env.date}: ${r.rounds} rounds of ${r.perRound} ` +
        `spawns of each case (${r.rounds * r.perRound} each), the cases taking turns within each round (the order ` +
        'rotates), after an untimed warm-up; median and p90 of all spawns. Each figure is the time from the spawn call ' +
        'until the exit is seen (`child.exited` for pidns, the `exit` event of child_process.spawn for the tools), ' +
        'of `/bin/true`, one at a time, as root. Before timing, each case ran `readlink /proc/self/ns/*` as its ' +
        'command; "new namespaces" lists those that differed from Node\'s.',
    ),
    '',
    wrap(
      `Machine: ${env.cpu}, ${env.cores} cores; Linux ${env.kernel}; Node ${env.node}; load average ${env.loadAverage} ` +
        `before, ${r.loadAverageAfter} after; pidns ${env.pidns}; ${env.versions.unshare}; ${env.versions.bwrap}.`,
    ),
    '',
    `| goal | measured | target |  |`,
    '| --- | --- | --- | --- |',
    `| ${GOAL.case} / ${GOAL.against} | ${ratio(measured)} | ≤ ${ratio(GOAL.target)} | ${measured <= GOAL.target ? 'met' : '**missed**'} |`,
    '',
    '### All six, against unshare and bubblewrap',
    '',
    ...table(r.groups.all),
    '',
    '### One kind at a time',
    '',
    ...table(r.groups.single),
    '',
    wrap(
      `One kind at a time, ${added[0][0]} added the most here (${us(added[0][1])} µs over the PID namespace alone), ` +
        `then ${added[1][0]} (${us(added[1][1])} µs)${added[0][0] === 'net' || added[1][0] === 'net' ? '' : `; net added ${us(net)} µs`}; ` +
        `the six alone add up to ${us(sum)} µs, and all six together added ${us(rows['pidns, all six'].median - base)} µs. ` +
        'A difference below the spread of the round medians is noise. Creating a network namespace registers the loopback device and runs every ' +
        "subsystem's per-namespace setup, and pidns also brings lo up (`unshare --net` leaves it down). After the first " +
        'spawn that asks for one, a thread of the addon\'s makes the next ahead (README, "Beyond the PID namespace"), so ' +
        'the "+ net" and "all six" rows mostly take one made ahead: what is left in them is entering it (setns) and the ' +
        'CPU the kernel spends making the next and tearing down the last meanwhile; "all six, net made in the clone" ' +
        'is the same spawn with `PIDNS_NO_WARM_NETWORK=1`. The teardown is not in these times: when the last process leaves a network ' +
        'namespace the kernel queues its cleanup on a workqueue (cleanup_net), so the exit is seen before the ' +
        'namespace is gone, for pidns and unshare alike. That cleanup still uses CPU while the next spawns run, ' +
        'and it is spread over the interleaved cases. bubblewrap has no time namespace and always makes a mount ' +
        'namespace; `--dev-bind / /` keeps the host\'s files in it, and its pid 1 is bwrap itself, with the ' +
        'command as pid 2.',
    ),
  ].join('\n');
}

/** The README's summary of the same run, between its markers in "Beyond the PID namespace". */
function renderReadmeSummary(r) {
  const env = r.environment;
  const rows = r.latency;
  const unshare = rows[GOAL.against].median;
  const base = rows['pidns, pid only'].median;
  const slowest = KINDS.map((k) => [k, rows[`pidns, + ${k}`].median - base]).sort((a, b) => b[1] - a[1])[0];
  return [
    `Spawn-to-exit of \`/bin/true\` as root, median of ${r.rounds * r.perRound} spawns each, measured side by side ` +
      `on ${env.date.slice(0, 10)} (${env.cores} vCPUs, Linux ${env.kernel.split('-')[0]}, Node ${env.node.split(' ')[0]}); ` +
      'the p90, each kind alone and what was checked are in ' +
      '[BENCHMARKS.md](BENCHMARKS.md#beyond-the-pid-namespace) (`npm run bench:namespaces`):',
    '',
    '| case | median | p90 | × unshare |',
    '| --- | --- | --- | --- |',
    ...README_ROWS.map(([name, label]) => `| ${label} | ${us(rows[name].median)} µs | ${us(rows[name].p90)} µs | ${ratio(rows[name].median / unshare)} |`),
    '',
    `Goal: pidns with all six under its init at most ${ratio(GOAL.target)} of unshare's time; measured ` +
      `${ratio(rows[GOAL.case].median / unshare)}, ${rows[GOAL.case].median / unshare <= GOAL.target ? 'met' : '**missed**'}. ` +
      `Alone, ${slowest[0]} adds the most (+${us(slowest[1])} µs over the PID namespace only${slowest[0] === 'net' ? ', its teardown not included: the kernel finishes it after the exit is seen' : ''}).`,
  ].join('\n');
}

function writeReadme(summary) {
  const file = path.join(REPO, 'README.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} ... ${README_END} region`);
  fs.writeFileSync(file, `${text.slice(0, start + README_START.length)}\n${summary}\n${text.slice(end)}`);
}

function writeMarkdown(markdown) {
  const file = path.join(REPO, 'BENCHMARKS.md');
  let text = fs.readFileSync(file, 'utf8');
  if (!text.includes(START) || !text.includes(END) || text.indexOf(END) < text.indexOf(START)) {
    text = `${text.replace(/\n*$/, '\n')}\n${HEADING}\n\n${START}\n${END}\n`;
  }
  const start = text.indexOf(START) + START.length;
  const end = text.indexOf(END);
  fs.writeFileSync(file, `${text.slice(0, start)}\n${markdown}\n${text.slice(end)}`);
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`${name} needs a positive integer`);
  return v;
}

async function main() {
  if (process.argv.includes('--render')) {
    const saved = JSON.parse(fs.readFileSync(path.join(OUT_DIR, 'namespaces.json'), 'utf8'));
    writeMarkdown(render(saved));
    writeReadme(renderReadmeSummary(saved));
    log('wrote the namespaces section of BENCHMARKS.md and its summary in README.md from bench/out/namespaces.json');
    return;
  }
  if (process.getuid() !== 0) throw new Error('run as root: the cases create namespaces without a user namespace');
  const rounds = arg('--rounds', DEFAULTS.rounds);
  const perRound = arg('--per-round', DEFAULTS.perRound);
  const tools = ensureTools();
  const environment = describeEnvironment(tools);
  const { cases, commands, groups } = makeNamespaceCases(tools);

  log('checking which namespaces each case makes');
  const verified = {};
  for (const [name, run] of Object.entries(cases)) verified[name] = await newNamespacesOf(run);
  for (const name of groups.single.slice(2)) {
    const kind = name.replace('pidns, + ', '');
    if (verified[name].join() !== ['pid', kind].join()) throw new Error(`${name} made ${verified[name].join(', ')}`);
  }
  for (const name of ['pidns, all six', 'pidns, all six, init: false', 'unshare, all six']) {
    if (verified[name].length !== 7) throw new Error(`${name} made only ${verified[name].join(', ')}`);
  }

  log(`${Object.keys(cases).length} cases, ${rounds} rounds of ${perRound}`);
  const started = Date.now();
  const measured = await latency(cases, null, {}, { rounds, perRound }, (done, total) => log(`  round ${done}/${total}`));
  log(`measured in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const results = {
    rounds,
    perRound,
    environment,
    loadAverageAfter: os.loadavg()[0].toFixed(2),
    commands,
    groups,
    verified,
    latency: measured,
  };
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.writeFileSync(path.join(OUT_DIR, 'namespaces.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = render(results);
  writeMarkdown(markdown);
  writeReadme(renderReadmeSummary(results));
  process.stdout.write(`${markdown}\n`);
  log('wrote bench/out/namespaces.json, the namespaces section of BENCHMARKS.md and its summary in README.md');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
