'use strict';
// The ways of running a program that are compared. Every case is a function
// run(file, args, capture) that runs FILE ARGS to its end and resolves with { code, signal } plus
// { stdout } when capture is true, so the same code path is timed and sanity-checked.
const { spawn, execFile } = require('child_process');
const pidns = require('../dist');

function collect(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

function viaPidns(options, library = pidns) {
  return async (file, args, capture) => {
    const child = await library.spawnInPidNamespace(file, args, { ...options, stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'ignore' });
    const stdout = capture ? collect(child.stdout) : undefined;
    const status = await child.exited;
    return { ...status, stdout: await stdout };
  };
}

function viaChildProcess(wrapper) {
  return (file, args, capture) =>
    new Promise((resolve, reject) => {
      const argv = [...wrapper, file, ...args];
      const child = spawn(argv[0], argv.slice(1), { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'ignore' });
      const stdout = capture ? collect(child.stdout) : undefined;
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        Promise.resolve(stdout).then((text) => resolve({ code, signal, stdout: text }), reject);
      });
    });
}

/** Row names for each init build (bench/inits.js); the default build, first, keeps the plain names. */
const initCaseName = (build, index) => (index === 0 ? 'pidns init' : `pidns init, ${build.label} init`);
const initFloorName = (build, index) => (index === 0 ? 'C floor, pidns-init' : `C floor, ${build.label} pidns-init`);
const initMemoryName = (build, index) => (index === 0 ? 'pidns-init' : `pidns-init, ${build.label} build`);

/**
 * The spawn cases of the latency table, in display order. `pod` is the pid of a running
 * namespace member to join; `inits` lists the init builds, the default first. The floors are not
 * here: they time themselves (see floorRun).
 */
function makeCases(tools, pod, inits) {
  return {
    'pidns raw': viaPidns({ init: false }),
    ...Object.fromEntries(inits.builds.map((b, i) => [initCaseName(b, i), viaPidns({ init: true }, b.library)])),
    'pidns join': viaPidns({ join: pod }),
    'child_process.spawn': viaChildProcess([]),
    'unshare --pid --fork': viaChildProcess([tools.unshare, '--pid', '--fork']),
    'unshare --pid --fork tini': viaChildProcess([tools.unshare, '--pid', '--fork', tools.tini, '--']),
    'bwrap --unshare-pid': viaChildProcess([tools.bwrap, '--unshare-pid', '--dev-bind', '/', '/']),
  };
}

/** What each case runs, for the report. */
const caseCommands = (inits) => ({
  'pidns raw': "spawnInPidNamespace('/bin/true', [], { init: false })",
  ...Object.fromEntries(
    inits.builds.map((b, i) => [
      initCaseName(b, i),
      `spawnInPidNamespace('/bin/true') (init: true, the default), pidns-init ${i === 0 ? `as built by default here (${b.name})` : `built with PIDNS_INIT_BUILD=${b.name}`}`,
    ]),
  ),
  'pidns join': "spawnInPidNamespace('/bin/true', [], { join: podPid })",
  'child_process.spawn': "child_process.spawn('/bin/true')",
  'unshare --pid --fork': "child_process.spawn('unshare', ['--pid', '--fork', '/bin/true'])",
  'unshare --pid --fork tini': "child_process.spawn('unshare', ['--pid', '--fork', 'tini', '--', '/bin/true'])",
  'bwrap --unshare-pid': "child_process.spawn('bwrap', ['--unshare-pid', '--dev-bind', '/', '/', '/bin/true'])",
  'C floor': 'bench/floor.c: clone(CLONE_NEWPID|CLONE_VM|CLONE_VFORK) + execve + waitpid',
  ...Object.fromEntries(
    inits.builds.map((b, i) => [initFloorName(b, i), `bench/floor.c running pidns-init -- /bin/true (PIDNS_INIT_BUILD=${b.name})`]),
  ),
});

/**
 * The floors: the C loop running /bin/true directly (what pidns raw does, without Node), and
 * running it under each pidns-init build (what init mode does, without Node). Each maps to the
 * argv prefix put before the program.
 */
const makeFloors = (inits) => ({
  'C floor': [],
  ...Object.fromEntries(inits.builds.map((b, i) => [initFloorName(b, i), [b.initPath, '--']])),
});

/**
 * Runs the C floor for `iterations` spawns of PREFIX FILE ARGS; resolves with its per-iteration
 * samples in microseconds and whatever the spawned program printed.
 */
function floorRun(floor, prefix, iterations, file = '/bin/true', args = []) {
  return new Promise((resolve, reject) => {
    execFile(floor, [String(iterations), '--samples', ...prefix, file, ...args], { maxBuffer: 64 * 2 ** 20 }, (err, stdout) => {
      if (err) return reject(err);
      const lines = stdout.trimEnd().split('\n');
      const report = JSON.parse(lines.pop());
      resolve({ samplesUs: report.samples.map((ns) => ns / 1000), output: lines.join('\n') });
    });
  });
}

module.exports = { viaPidns, viaChildProcess, caseCommands, makeCases, makeFloors, floorRun, initCaseName, initFloorName, initMemoryName };
