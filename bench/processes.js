'use strict';
// Measurements read from /proc: what each case really spawns, the memory of the inits, and the
// cost of many live namespaces.
const fs = require('fs');
const { spawnInPidNamespace } = require('../dist');
const { floorRun, initCaseName, initFloorName, initMemoryName } = require('./cases');

const namespaceOf = (pid) => fs.statSync(`/proc/${pid}/ns/pid`).ino;

/**
 * Memory of a process in kB, from /proc/PID/status and /proc/PID/smaps_rollup. privateDirty is
 * what every further instance costs: clean file pages are shared by all instances of a binary.
 */
function memoryOf(pid) {
  const fields = {};
  for (const file of ['status', 'smaps_rollup']) {
    for (const line of fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (m) fields[m[1]] = Number(m[2]);
    }
  }
  return { vmRss: fields.VmRSS, rssAnon: fields.RssAnon, pss: fields.Pss, privateDirty: fields.Private_Dirty, vmPte: fields.VmPTE };
}

/** Children of PID across all its threads (libuv may fork from any of them). */
function childrenOf(pid) {
  const children = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) children.push(...text.split(' ').map(Number));
  }
  return children;
}

const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

/** Every process on the system whose PID namespace is one of `namespaceIds`. */
function membersOf(namespaceIds) {
  const members = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (namespaceIds.has(namespaceOf(entry))) members.push(Number(entry));
    } catch {
      // The process ended while the list was read.
    }
  }
  return members;
}

/**
 * Runs a shell in every case that prints its PID namespace and then execs grep, so the NSpid
 * line printed is the command's own: the pid chain from our namespace inwards. Throws if a case
 * does not put the command where it claims to.
 */
async function verifyCases(cases, floor, floors, inits, pod) {
  const script = 'readlink /proc/self/ns/pid; exec grep NSpid /proc/self/status';
  const ours = namespaceOf('self');
  const podNamespace = namespaceOf(pod);
  // The pid of the command inside its namespace; 'pod': the pod's namespace; 'same': no new one.
  const expected = {
    'pidns raw': 1,
    'pidns join': 'pod',
    'child_process.spawn': 'same',
    'unshare --pid --fork': 1,
    'unshare --pid --fork tini': 2,
    'bwrap --unshare-pid': 2,
    'C floor': 1,
  };
  inits.builds.forEach((b, i) => {
    expected[initCaseName(b, i)] = 2;
    expected[initFloorName(b, i)] = 2;
  });
  const runners = { ...cases };
  for (const [name, prefix] of Object.entries(floors))
    runners[name] = (file, args) => floorRun(floor, prefix, 1, file, args).then((r) => ({ code: 0, stdout: r.output }));
  const found = {};
  for (const [name, run] of Object.entries(runners)) {
    const { code, stdout } = await run('/bin/sh', ['-c', script], true);
    const lines = stdout.trim().split('\n').slice(-2);
    const namespace = Number(/pid:\[(\d+)\]/.exec(lines[0])?.[1]);
    const nspid = lines[1].replace(/^NSpid:\s*/, '').split(/\s+/).map(Number);
    const inner = nspid[nspid.length - 1];
    const want = expected[name];
    const ok =
      code === 0 &&
      (want === 'same'
        ? namespace === ours && nspid.length === 1
        : nspid.length === 2 && namespace !== ours && (want === 'pod' ? namespace === podNamespace : inner === want));
    if (!ok) throw new Error(`${name} does not spawn what it claims: exit ${code}, namespace ${namespace}, NSpid ${nspid.join(' ')}`);
    found[name] = { newNamespace: namespace !== ours, joinsPod: namespace === podNamespace, innerPid: inner };
  }
  return found;
}

async function waitFor(predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Memory of each init (every pidns-init build, then the others) as pid 1 of its own namespace
 * with `sleep 100` as its child. tini and dumb-init are started as pid 1 by pidns raw mode, which
 * execs them directly, exactly as `unshare --pid --fork tini` would.
 */
async function initMemory(tools, inits) {
  const sleep = ['/bin/sleep', '100'];
  const candidates = {
    ...Object.fromEntries(
      inits.builds.map((b, i) => [
        initMemoryName(b, i),
        async () => {
          const child = await b.library.spawnInPidNamespace(sleep[0], sleep.slice(1), { stdio: 'ignore' });
          return { child, initPid: child.init.pid };
        },
      ]),
    ),
    tini: (p) => p(tools.tini, ['--', ...sleep]),
    'tini-static': (p) => p(tools.tiniStatic, ['--', ...sleep]),
    'dumb-init': (p) => p(tools.dumbInit, sleep),
  };
  const asPid1 = async (file, args) => {
    const child = await spawnInPidNamespace(file, args, { init: false, stdio: 'ignore' });
    return { child, initPid: child.pid };
  };
  const result = {};
  for (const [name, start] of Object.entries(candidates)) {
    const { child, initPid } = await start(asPid1);
    try {
      // Measure once the init has forked its command and settled into waiting.
      await waitFor(() => childrenOf(initPid).length > 0, 2000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      result[name] = { ...memoryOf(initPid), binaryBytes: fs.statSync(fs.readlinkSync(`/proc/${initPid}/exe`)).size };
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  }
  return result;
}

/**
 * Starts `count` namespaces, each `sleep 1000` under the init, one after another; measures what
 * they cost the Node process and the system; kills them all and checks nothing is left.
 */
async function scale(count, progress) {
  const before = { descriptors: openDescriptors(), children: childrenOf(process.pid).length, rss: memoryOf('self').vmRss };
  const children = [];
  const tenth = count / 10;
  const tenthsMs = [];
  let half;
  const start = performance.now();
  let tenthStart = start;
  for (let i = 0; i < count; i++) {
    children.push(await spawnInPidNamespace('/bin/sleep', ['1000'], { stdio: 'ignore' }));
    // Descriptors at the half-way mark too: two points show whether the cost per namespace is constant.
    if (i + 1 === count / 2) half = { descriptors: openDescriptors() };
    if ((i + 1) % tenth === 0) {
      // The time of each tenth shows whether starting slows down as namespaces accumulate.
      const now = performance.now();
      tenthsMs.push(now - tenthStart);
      tenthStart = now;
      progress?.(i + 1, count);
    }
  }
  const startMs = performance.now() - start;

  const namespaces = new Set(children.map((c) => c.namespaceId));
  const live = membersOf(namespaces).length;
  const inits = children.map((c) => memoryOf(c.init.pid));
  const sum = (key) => inits.reduce((total, m) => total + m[key], 0);
  const during = { descriptors: openDescriptors(), children: childrenOf(process.pid).length, rss: memoryOf('self').vmRss };

  const killStart = performance.now();
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  const killMs = performance.now() - killStart;
  const after = { descriptors: openDescriptors(), children: childrenOf(process.pid).length, rss: memoryOf('self').vmRss };

  return {
    count,
    namespaces: namespaces.size,
    liveProcesses: live,
    startMs,
    firstTenthUs: (tenthsMs[0] * 1000) / tenth,
    lastTenthUs: (tenthsMs[tenthsMs.length - 1] * 1000) / tenth,
    killMs,
    before,
    half,
    during,
    after,
    inits: { vmRss: sum('vmRss'), pss: sum('pss'), privateDirty: sum('privateDirty') },
    leftInNamespaces: membersOf(namespaces).length,
  };
}

module.exports = { memoryOf, childrenOf, verifyCases, initMemory, scale };
