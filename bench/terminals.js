'use strict';
// Terminal sessions at scale: N live shells, each on its own pseudo-terminal, held by one Node
// process, in three ways:
//   pidns            spawnInPidNamespace('bash', ..., { terminal: true }): a PID namespace each
//   node-pty + pidns node-pty running `pidns run -- bash`: what users would write without pidns's
//                    terminal option (one more Node process per session)
//   node-pty         node-pty running bash, no namespace
// Each way runs in a fresh Node process (so that its growth is its own) and reports the memory
// every session adds (RssAnon and Pss of every process below that Node process, plus the Node
// process's own growth), its descriptors per session, and the time from the spawn call to the
// shell's first prompt.
//
//   node bench/terminals.js [SESSIONS]        runs all three, prints a Markdown table
//   node bench/terminals.js --case NAME N     one case (used by the above), prints JSON
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { childrenOf, memoryOf } = require('./processes');

const CASES = ['pidns', 'node-pty + pidns run', 'node-pty'];
const SHELL_ARGS = ['--norc', '--noprofile', '-i'];
const PROMPT = '$ ';

function descendantsOf(pid) {
  const all = [];
  const queue = childrenOf(pid);
  while (queue.length > 0) {
    const next = queue.shift();
    all.push(next);
    queue.push(...childrenOf(next));
  }
  return all;
}

const descriptorCount = () => fs.readdirSync('/proc/self/fd').length;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** Starts one session and resolves once its shell prints the prompt: { close(), closed }. */
function starter(name) {
  const env = { PATH: process.env.PATH, TERM: 'xterm', PS1: PROMPT, HOME: process.env.HOME || '/' };
  if (name === 'pidns') {
    const { spawnInPidNamespace } = require('../dist');
    return async () => {
      const child = await spawnInPidNamespace('bash', SHELL_ARGS, { terminal: true, env });
      await firstPrompt((listener) => child.terminal.on('data', listener));
      return { close: () => child.terminal.destroy(), closed: new Promise((r) => child.once('close', r)) };
    };
  }
  const pty = require('node-pty');
  const [file, args] =
    name === 'node-pty' ? ['bash', SHELL_ARGS] : [process.execPath, [path.join(__dirname, '..', 'dist', 'cli.js'), 'run', '--', 'bash', ...SHELL_ARGS]];
  return async () => {
    const term = pty.spawn(file, args, { cols: 80, rows: 24, env });
    await firstPrompt((listener) => term.onData(listener));
    return { close: () => term.kill('SIGHUP'), closed: new Promise((r) => term.onExit(r)) };
  };
}

function firstPrompt(subscribe) {
  return new Promise((resolve) => {
    let text = '';
    let seen = false;
    // Output goes on being read (and dropped), as a terminal server would forward it.
    subscribe((data) => {
      if (seen) return;
      text += data;
      if (text.includes(PROMPT)) {
        seen = true;
        resolve();
      }
    });
  });
}

function settle() {
  global.gc();
  return new Promise((r) => setTimeout(r, 500));
}

async function runCase(name, sessions) {
  const start = starter(name);
  // One session first, so that code loaded and compiled on first use is not counted.
  const warm = await start();
  warm.close();
  await warm.closed;
  await settle();
  const before = { self: memoryOf(process.pid), fds: descriptorCount() };

  const live = [];
  const startMs = [];
  for (let i = 0; i < sessions; i++) {
    const t0 = process.hrtime.bigint();
    live.push(await start());
    startMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await settle();
  const self = memoryOf(process.pid);
  const added = { rssAnon: 0, pss: 0, vmRss: 0, processes: 0 };
  for (const pid of descendantsOf(process.pid)) {
    try {
      const m = memoryOf(pid);
      added.rssAnon += m.rssAnon;
      added.pss += m.pss;
      added.vmRss += m.vmRss;
      added.processes++;
    } catch {
      // a process that ended while the tree was read (none should)
    }
  }
  const fds = descriptorCount();
  for (const s of live) s.close();
  await Promise.all(live.map((s) => s.closed));
  startMs.sort((a, b) => a - b);
  return {
    name,
    sessions,
    processesPerSession: added.processes / sessions,
    nodeGrowthRssAnonKb: self.rssAnon - before.self.rssAnon,
    nodeGrowthPssKb: self.pss - before.self.pss,
    childrenRssAnonKb: added.rssAnon,
    childrenPssKb: added.pss,
    childrenVmRssKb: added.vmRss,
    perSessionRssAnonKb: (self.rssAnon - before.self.rssAnon + added.rssAnon) / sessions,
    perSessionPssKb: (self.pss - before.self.pss + added.pss) / sessions,
    descriptorsPerSession: (fds - before.fds) / sessions,
    startMedianMs: percentile(startMs, 50),
    startP90Ms: percentile(startMs, 90),
  };
}

function runAll(sessions) {
  const results = CASES.map((name) =>
    JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, '--case', name, String(sessions)], { encoding: 'utf8', maxBuffer: 1 << 20 })),
  );
  const composition = results.find((r) => r.name === 'node-pty + pidns run');
  const mb = (kb) => (kb / 1024).toFixed(2);
  const lines = [
    `${sessions} live sessions of \`bash --norc --noprofile -i\` in one Node process (${process.version}); memory per session counts every process a session adds and the Node process's own growth.`,
    '',
    '| case | processes per session | RssAnon per session | Pss per session | × node-pty + pidns run (RssAnon) | descriptors per session in Node | start to first prompt, median | p90 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${r.processesPerSession.toFixed(1)} | ${mb(r.perSessionRssAnonKb)} MB | ${mb(r.perSessionPssKb)} MB | ${(r.perSessionRssAnonKb / composition.perSessionRssAnonKb).toFixed(2)}x | ${r.descriptorsPerSession.toFixed(1)} | ${r.startMedianMs.toFixed(1)} ms | ${r.startP90Ms.toFixed(1)} ms |`,
    );
  }
  lines.push('', 'Of which the Node process grew, per session (RssAnon): ' + results.map((r) => `${r.name} ${(r.nodeGrowthRssAnonKb / sessions).toFixed(0)} kB`).join(', ') + '.');
  console.log(lines.join('\n'));
  console.error(JSON.stringify(results, null, 2));
}

if (process.argv[2] === '--case') {
  runCase(process.argv[3], Number(process.argv[4])).then(
    (result) => {
      console.log(JSON.stringify(result));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  runAll(Number(process.argv[2] || 500));
}
