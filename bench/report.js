'use strict';
// Turns the results into markdown: the goals with their verdicts, and the tables behind them. The
// same text is printed and written to BENCHMARKS.md, followed by the hand-written findings of
// bench/ANALYSIS.md, whose figures are placeholders filled from the same results (so that they
// always quote this run, never an older one).
const fs = require('fs');
const path = require('path');

const us = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ms = (v) => v.toFixed(2);
const ratio = (v) => `${v.toFixed(2)}x`;
const mib = (kB) => `${(kB / 1024).toFixed(1)} MiB`;
const kib = (kB) => `${kB} kB`;

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Every goal as { goal, measured, target, met }, computed from this run only. */
function goals(r) {
  const small = r.latency.small;
  const big = r.latency['1 GiB'];
  const median = (heap, name) => heap[name].median;
  const list = [];
  const add = (goal, value, limit, format = ratio) =>
    list.push({ goal, measured: format(value), target: `≤ ${format(limit)}`, met: value <= limit });

  add('pidns raw / child_process.spawn, small heap', median(small, 'pidns raw') / median(small, 'child_process.spawn'), 0.8);
  add('pidns raw / child_process.spawn, 1 GiB held', median(big, 'pidns raw') / median(big, 'child_process.spawn'), 0.25);
  add('pidns raw / C floor, small heap', median(small, 'pidns raw') / median(small, 'C floor'), 1.5);
  add('pidns init / child_process.spawn, small heap', median(small, 'pidns init') / median(small, 'child_process.spawn'), 1.0);
  add('pidns init / child_process.spawn, 1 GiB held', median(big, 'pidns init') / median(big, 'child_process.spawn'), 1.0);
  add('pidns init / unshare --pid --fork, small heap', median(small, 'pidns init') / median(small, 'unshare --pid --fork'), 0.5);
  for (const name of ['pidns raw', 'pidns init', 'pidns join'])
    add(`${name}: 1 GiB held / small heap`, median(big, name) / median(small, name), 1.3);
  add('pidns-init VmRSS / tini VmRSS', r.initMemory['pidns-init'].vmRss / r.initMemory.tini.vmRss, 1.0);
  add('pidns-init private dirty / tini private dirty', r.initMemory['pidns-init'].privateDirty / r.initMemory.tini.privateDirty, 1.0);
  const addAtLeast = (goal, value, limit, format = ratio) =>
    list.push({ goal, measured: format(value), target: `≥ ${format(limit)}`, met: value >= limit });
  for (const name of ['pidns raw', 'pidns init']) {
    const lag = r.throughput.find((t) => t.case === name && t.inFlight === r.lagInFlight);
    add(`p99 event-loop lag, ${name}, ${r.lagInFlight} in flight`, lag.lagP99, 10, (v) => `${ms(v)} ms`);
  }
  // The clone window runs on the addon's spawner thread: the loop waits for no clone, so its lag
  // stays below one spawn's own time, and spawns in flight overlap.
  const inFlight = (name, n) => r.throughput.find((t) => t.case === name && t.inFlight === n);
  for (const name of ['pidns raw', 'pidns init']) {
    const spawnMs = median(small, name) / 1000;
    add(`${name}: p99 event-loop lag at 8 in flight / one spawn's median (${ms(spawnMs)} ms)`, inFlight(name, 8).lagP99 / spawnMs, 1.0);
    add(`${name}: p99 event-loop lag at 64 in flight / one spawn's median`, inFlight(name, 64).lagP99 / spawnMs, 2.0);
    addAtLeast(`${name}: spawns/s at 8 in flight / one at a time`, inFlight(name, 8).perSecond / inFlight(name, 1).perSecond, 1.5);
  }
  const s = r.scale;
  const perHalf = (s.half.descriptors - s.before.descriptors) / (s.count / 2);
  const perAll = (s.during.descriptors - s.before.descriptors) / s.count;
  list.push({
    goal: `descriptors Node holds per live namespace (at ${s.count / 2} and ${s.count})`,
    measured: `${perHalf.toFixed(2)} and ${perAll.toFixed(2)}`,
    target: 'constant',
    met: Math.abs(perHalf - perAll) < 0.05,
  });
  list.push({
    goal: `after killing ${s.count} namespaces: processes left in them, children of Node, descriptors`,
    measured: `${s.leftInNamespaces}, ${s.after.children - s.before.children}, ${s.after.descriptors - s.before.descriptors}`,
    target: '0, 0, 0',
    met: s.leftInNamespaces === 0 && s.after.children === s.before.children && s.after.descriptors === s.before.descriptors,
  });
  return list;
}

const INIT_BUILD_TEXT = {
  nolibc: 'no C library: init.c over src-native/init/freestanding/, static',
  musl: 'musl-gcc, static',
  system: 'the system C library (cc), static-pie',
};

function render(r, analysis) {
  const env = r.environment;
  const heaps = Object.keys(r.latency);
  const names = Object.keys(r.latency.small);
  const base = (heap) => r.latency[heap]['child_process.spawn'].median;
  const out = [];

  out.push('# Benchmarks');
  out.push('');
  out.push(
    `Written by \`npm run bench\` (bench/run.js${r.quick ? ' --quick: a short run, not for quoting' : ''}) on ${env.date}. ` +
      'Absolute times depend on the machine; compare the ratios, which come from one run where every case ' +
      'was measured side by side.',
  );
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(`- CPU: ${env.cpu}, ${env.cores} cores; memory ${env.memoryGiB.toFixed(1)} GiB; transparent hugepages: ${env.transparentHugepages}`);
  out.push(`- kernel: ${env.kernel}`);
  if (env.loadAverage !== undefined) out.push(`- load average when the run began: ${env.loadAverage}`);
  out.push(`- Node ${env.node}`);
  out.push(`- pidns ${env.pidns}`);
  for (const [tool, version] of Object.entries(env.versions)) out.push(`- ${tool}: ${version}`);
  out.push('');

  const defaultInit = r.initBuilds[0];
  out.push('## Init builds');
  out.push('');
  out.push(
    'pidns-init as src-native/init/build.sh builds it here by default, and every other way it can build it ' +
      '(PIDNS_INIT_BUILD), each measured side by side in the same run. Every figure for init mode that does not ' +
      `name a build (the goals, "pidns init", throughput, "pidns-init" memory, scale) is the default build, ${defaultInit.name}.`,
  );
  out.push('');
  out.push(
    table(
      ['build', 'what it is', 'binary', 'its rows'],
      r.initBuilds.map((b, i) => [
        i === 0 ? `${b.name} (the default)` : b.name,
        INIT_BUILD_TEXT[b.name] ?? b.name,
        `${(b.bytes / 1024).toFixed(0)} KiB`,
        i === 0 ? '"pidns init", "C floor, pidns-init", "pidns-init"' : `"pidns init, ${b.label} init", "C floor, ${b.label} pidns-init", "pidns-init, ${b.label} build"`,
      ]),
    ),
  );
  out.push('');

  out.push('## Goals');
  out.push('');
  out.push(table(['goal', 'measured', 'target', ''], goals(r).map((g) => [g.goal, g.measured, g.target, g.met ? 'met' : '**missed**'])));
  out.push('');

  out.push('## Spawn-to-exit latency of /bin/true');
  out.push('');
  out.push(
    `Median microseconds from the spawn call until the exit is seen, one spawn at a time. ${r.params.rounds} rounds of ` +
      `${r.params.perRound} spawns per case, the cases taking turns within each round (the order rotates), after ` +
      'an untimed warm-up. "C floor" is bench/floor.c timing its own clone(CLONE_NEWPID|CLONE_VM|CLONE_VFORK) + ' +
      'execve + waitpid loop, without Node; "C floor, pidns-init" is the same loop running `pidns-init -- /bin/true`, ' +
      'the floor of init mode. Rows that name an init build ran that build of pidns-init (see Init builds). The heap columns are the same run with that much memory in Buffers ' +
      'held by Node, every page touched.',
  );
  out.push('');
  out.push(
    table(
      ['case', ...heaps.flatMap((h) => [`${h} µs`, `× child_process`]), '1 GiB / small'],
      names.map((n) => [
        n,
        ...heaps.flatMap((h) => [us(r.latency[h][n].median), ratio(r.latency[h][n].median / base(h))]),
        ratio(r.latency['1 GiB'][n].median / r.latency.small[n].median),
      ]),
    ),
  );
  out.push('');
  out.push('Spread: p10–p90 of all spawns, and the lowest and highest of the round medians (µs).');
  out.push('');
  out.push(
    table(
      ['case', ...heaps.flatMap((h) => [`${h} p10–p90`, `${h} rounds`])],
      names.map((n) => [
        n,
        ...heaps.flatMap((h) => {
          const s = r.latency[h][n];
          return [`${us(s.p10)}–${us(s.p90)}`, `${us(s.roundMin)}–${us(s.roundMax)}`];
        }),
      ]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['Node process', ...heaps],
      [
        ['VmRSS', ...heaps.map((h) => mib(r.heapState[h].vmRss))],
        ['page tables (VmPTE)', ...heaps.map((h) => kib(r.heapState[h].vmPte))],
      ],
    ),
  );
  out.push('');

  out.push('### What each case runs');
  out.push('');
  out.push(
    'Checked at the start of the run: each case ran `sh -c \'readlink /proc/self/ns/pid; exec grep NSpid /proc/self/status\'` ' +
      'and the benchmark stops if the command is not where the case claims.',
  );
  out.push('');
  out.push(
    table(
      ['case', 'what runs', 'PID namespace of the command', 'its pid there'],
      names.map((n) => {
        const v = r.verified[n];
        const where = !v.newNamespace ? "Node's own" : v.joinsPod ? "the pod's (a running `sleep`)" : 'a new one';
        return [n, r.caseCommands[n], where, v.newNamespace ? String(v.innerPid) : '—'];
      }),
    ),
  );
  out.push('');

  out.push('## Throughput and event-loop lag');
  out.push('');
  out.push(
    `Spawns of /bin/true per second with a fixed number in flight for ${r.params.throughputMs / 1000} s each (small heap), ` +
      'and the event-loop lag over the same period: perf_hooks.monitorEventLoopDelay with a 1 ms timer, minus ' +
      'those 1 ms. "ticks" is how often that timer got to run: a loop that is starved shows few ticks, each as ' +
      `long as the stall. Idle loop for reference: p50 ${ms(r.idleLag.lagP50)} ms, p99 ${ms(r.idleLag.lagP99)} ms, ` +
      `max ${ms(r.idleLag.lagMax)} ms. "neighbor p99" is the same lag of a second Node process that does nothing ` +
      '(bench/neighbor-lag.js), measured over the same seconds: the floor that the load of the spawning itself (the ' +
      "processes started, the kernel's work for them) puts on any loop of this machine.",
  );
  out.push('');
  out.push(
    table(
      ['case', 'in flight', 'spawns/s', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'ticks', 'neighbor p99 ms'],
      r.throughput.map((t) => [t.case, String(t.inFlight), t.perSecond.toFixed(0), ms(t.lagP50), ms(t.lagP99), ms(t.lagMax), String(t.ticks), t.neighbor ? ms(t.neighbor.lagP99) : '—']),
    ),
  );
  out.push('');

  out.push('## Init memory');
  out.push('');
  out.push(
    'Each init as pid 1 of its own PID namespace with `sleep 100` as its child, measured once it waits. ' +
      'VmRSS from /proc/PID/status; PSS and private dirty from /proc/PID/smaps_rollup. PSS splits shared pages ' +
      'among every process mapping them, so it depends on what else runs (a dynamically linked init shares libc ' +
      'with everything; a static one shares its pages only with other instances of itself, see Scale). Private ' +
      'dirty (heap, stack, written data) is what every further instance costs whatever is shared.',
  );
  out.push('');
  out.push(
    table(
      ['init', 'VmRSS', 'PSS', 'private dirty', 'binary'],
      Object.entries(r.initMemory).map(([name, m]) => [name, kib(m.vmRss), kib(m.pss), kib(m.privateDirty), `${(m.binaryBytes / 1024).toFixed(0)} KiB`]),
    ),
  );
  out.push('');

  const s = r.scale;
  out.push('## Scale');
  out.push('');
  out.push(
    `${s.count} namespaces started one after another from one Node process, each \`sleep 1000\` under pidns-init ` +
      `(${r.initBuilds[0].name} build); ` +
      'then every one killed with child.kill(\'SIGKILL\').',
  );
  out.push('');
  out.push(
    table(
      ['', 'value'],
      [
        ['time to start all', `${(s.startMs / 1000).toFixed(2)} s (${us((s.startMs * 1000) / s.count)} µs each)`],
        ['per start: first tenth / last tenth', `${us(s.firstTenthUs)} µs / ${us(s.lastTenthUs)} µs`],
        ['live namespaces / processes in them', `${s.namespaces} / ${s.liveProcesses}`],
        ['Node VmRSS before / with all live / after', `${mib(s.before.rss)} / ${mib(s.during.rss)} / ${mib(s.after.rss)}`],
        ['inits: total VmRSS / PSS / private dirty', `${mib(s.inits.vmRss)} / ${mib(s.inits.pss)} / ${mib(s.inits.privateDirty)}`],
        ['inits: PSS per init', kib(Math.round(s.inits.pss / s.count))],
        ['descriptors Node holds: before / half started / all live / after', `${s.before.descriptors} / ${s.half.descriptors} / ${s.during.descriptors} / ${s.after.descriptors}`],
        ['children of Node: before / all live / after', `${s.before.children} / ${s.during.children} / ${s.after.children}`],
        ['time to kill all and see every exit', `${(s.killMs / 1000).toFixed(2)} s`],
        ['processes left in those namespaces', String(s.leftInNamespaces)],
      ],
    ),
  );
  out.push('');
  if (analysis) {
    out.push(fillFigures(analysis, r).trim());
    out.push('');
  }
  return out.join('\n');
}

/**
 * The figures the findings may quote, by name: each one also stands in a table of the report.
 *   us:CASE, x:CASE         median µs of a latency row (small heap), and its ratio to child_process
 *   xfloor:CASE             a latency row's median over the C floor's
 *   p10:CASE, p90:CASE      its spread
 *   ticks:CASE@N, p50:CASE@N, p99:CASE@N, persec:CASE@N   throughput and lag with N in flight
 *   neighbor:CASE@N        the idle neighbor's p99 lag meanwhile
 *   idle:p99                the idle loop's lag
 *   vmrss:INIT, dirty:INIT, binary:INIT                    init memory rows
 *   scale:first, scale:last, scale:fd:before|half|all|after
 */
function figures(r) {
  const f = new Map();
  const small = r.latency.small;
  for (const [name, row] of Object.entries(small)) {
    f.set(`us:${name}`, us(row.median));
    f.set(`x:${name}`, ratio(row.median / small['child_process.spawn'].median));
    if (small['C floor']) f.set(`xfloor:${name}`, ratio(row.median / small['C floor'].median));
    f.set(`p10:${name}`, us(row.p10));
    f.set(`p90:${name}`, us(row.p90));
  }
  for (const t of r.throughput) {
    const key = `${t.case}@${t.inFlight}`;
    f.set(`ticks:${key}`, String(t.ticks));
    f.set(`p50:${key}`, ms(t.lagP50));
    f.set(`p99:${key}`, ms(t.lagP99));
    f.set(`persec:${key}`, t.perSecond.toFixed(0));
    if (t.neighbor) f.set(`neighbor:${key}`, ms(t.neighbor.lagP99));
  }
  f.set('idle:p99', ms(r.idleLag.lagP99));
  for (const [name, m] of Object.entries(r.initMemory)) {
    f.set(`vmrss:${name}`, kib(m.vmRss));
    f.set(`dirty:${name}`, kib(m.privateDirty));
    f.set(`binary:${name}`, `${(m.binaryBytes / 1024).toFixed(0)} KiB`);
  }
  const s = r.scale;
  f.set('scale:first', us(s.firstTenthUs));
  f.set('scale:last', us(s.lastTenthUs));
  for (const [key, at] of [['before', s.before], ['half', s.half], ['all', s.during], ['after', s.after]]) f.set(`scale:fd:${key}`, String(at.descriptors));
  return f;
}

/** The findings with every {{name}} replaced by this run's figure; an unknown name is an error. */
function fillFigures(text, r) {
  const f = figures(r);
  return text.replace(/\{\{([^}]+)\}\}/g, (_, name) => {
    if (!f.has(name)) throw new Error(`bench/ANALYSIS.md quotes {{${name}}}, which this run has no figure for (known: ${[...f.keys()].join(', ')})`);
    return f.get(name);
  });
}

/** Hand-written findings (bench/ANALYSIS.md) are appended to the generated report when present. */
function readAnalysis() {
  const file = path.join(__dirname, 'ANALYSIS.md');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
}

/** The README's label of a latency row, in the order shown there. */
const README_ROWS = [
  ['pidns raw', 'pidns raw (`init: false`)'],
  ['pidns init', 'pidns with init (default build: no C library)'],
  ['pidns init, musl init', 'pidns with init, musl-built init'],
  ['pidns init, glibc init', 'pidns with init, glibc-built init'],
  ['pidns join', 'pidns joining a pod'],
  ['child_process.spawn', 'child_process.spawn'],
  ['unshare --pid --fork', 'child_process.spawn of `unshare --pid --fork`'],
  ['unshare --pid --fork tini', 'child_process.spawn of `unshare --pid --fork tini`'],
  ['bwrap --unshare-pid', 'child_process.spawn of `bwrap --unshare-pid`'],
];

/** The summary the README carries between its bench markers: latency and the goals, from this run. */
function renderReadmeSummary(r) {
  const small = r.latency.small;
  const big = r.latency['1 GiB'];
  const env = r.environment;
  const out = [];
  out.push(
    `From the run recorded in [BENCHMARKS.md](BENCHMARKS.md) on ${env.date.slice(0, 10)} (${env.cores} vCPUs, Linux ` +
      `${env.kernel.split('-')[0]}, Node ${env.node.split(' ')[0]}, load average ${env.loadAverage ?? '?'} when it began; ` +
      'absolute times vary between machines, the ratios come from one run where every case was measured side by side). ' +
      'Median spawn-to-exit of `/bin/true`, one at a time, with a small heap and with 1 GiB of Buffers held by Node:',
  );
  out.push('');
  out.push(
    table(
      ['case', 'small heap', '× child_process', '1 GiB held', '× child_process'],
      README_ROWS.filter(([name]) => small[name]).map(([name, label]) => [
        label,
        `${us(small[name].median)} µs`,
        ratio(small[name].median / small['child_process.spawn'].median),
        `${us(big[name].median)} µs`,
        ratio(big[name].median / big['child_process.spawn'].median),
      ]),
    ),
  );
  out.push('');
  out.push(
    'Spawns of `/bin/true` per second with a fixed number in flight for ' +
      `${r.params.throughputMs / 1000} s, and the p99 lag of the event loop meanwhile (monitorEventLoopDelay); "idle neighbor" ` +
      'is the p99 lag of a second Node process that does nothing, over the same seconds: what the load alone costs any loop here.',
  );
  out.push('');
  out.push(
    table(
      ['case', 'in flight', 'spawns/s', 'p99 lag', 'idle neighbor p99'],
      r.throughput.map((t) => [t.case, String(t.inFlight), t.perSecond.toFixed(0), `${ms(t.lagP99)} ms`, t.neighbor ? `${ms(t.neighbor.lagP99)} ms` : '—']),
    ),
  );
  out.push('');
  out.push(table(['goal', 'measured', 'target', ''], goals(r).map((g) => [g.goal, g.measured, g.target, g.met ? 'met' : '**missed**'])));
  return out.join('\n');
}

module.exports = { render, readAnalysis, renderReadmeSummary };
