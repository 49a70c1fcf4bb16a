#!/usr/bin/env node
// A two-member pod: one PID namespace with a pause-style pid 1, and two members that find each
// other with ps in a /proc of that namespace. Run as root from the package directory:
//   node examples/pod.js
'use strict';
const readline = require('readline');
const { PidNamespace } = require('..');

// Each member prints its pid, waits until ps shows the other (found by its argv[0]), prints the
// other's pid as ps shows it, and stays (a shell still called by its role, so the other finds it).
const memberScript = `
  echo "$ROLE: I am pid $$"
  until peer=$(ps -e -o pid=,args= | awk -v name="$PEER" '$2 == name { print $1 }'); [ -n "$peer" ]; do
    sleep 0.05
  done
  echo "$ROLE: $PEER is pid $peer"
  sleep 30`;

/** Resolves with the first `count` lines a stream prints. */
async function firstLines(stream, count) {
  const lines = [];
  for await (const line of readline.createInterface({ input: stream })) {
    lines.push(line);
    if (lines.length === count) break;
  }
  return lines;
}

async function main() {
  // mountProc: every member gets a mount namespace with a /proc of the pod's PID namespace.
  const pod = await PidNamespace.create({ mountProc: true });
  try {
    console.log(`pod: PID namespace ${pod.id}; its pid 1 is pid ${pod.init.pid} outside`);
    const start = (role, peer) => pod.spawn('sh', ['-c', memberScript], { argv0: role, env: { ...process.env, ROLE: role, PEER: peer } });
    const web = await start('web', 'sidecar');
    const sidecar = await start('sidecar', 'web');
    const printed = (await Promise.all([firstLines(web.stdout, 2), firstLines(sidecar.stdout, 2)])).flat();
    for (const line of printed) console.log(line);

    console.log('pod: its processes (outer pid, pid inside, command):');
    for (const p of pod.processes()) console.log(`  ${p.pid}\t${p.nsPid}\t${p.command.replace(/\s+/g, ' ').slice(0, 60)}`);

    const expected = [`web: sidecar is pid ${sidecar.nsPid}`, `sidecar: web is pid ${web.nsPid}`];
    const ok = expected.every((line) => printed.includes(line));
    console.log(ok ? 'pod: the members see each other' : `pod: FAILED, expected ${JSON.stringify(expected)}`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    await pod.close({ graceMs: 1000 });
    console.log(`pod: closed, ${pod.processes().length} processes left in it`);
  }
}

main().catch((err) => {
  console.error(`pod: ${err.message}`);
  process.exitCode = 1;
});
