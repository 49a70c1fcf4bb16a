// An integration test that starts a server tree in its own PID namespace and proves that nothing
// of it survives the test. Run as root (sudo) from the package directory:
//   npx jest --config examples/jest.config.js
'use strict';
const { once } = require('events');
const fs = require('fs');
const http = require('http');
const readline = require('readline');
const { spawnInPidNamespace } = require('..');

/** Every process whose PID namespace is `namespaceId` that has not exited, read from /proc. */
function survivors(namespaceId) {
  const alive = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.statSync(`/proc/${entry}/ns/pid`).ino !== namespaceId) continue;
      if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))) continue; // exited
      alive.push(Number(entry));
    } catch {
      // it exited while we looked
    }
  }
  return alive;
}

/** Waits until check() is true, or fails the test after `ms`. */
async function waitFor(check, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

// The server under test: a Node HTTP server that prints its port, with a worker it starts in the
// background and a daemon that double-forks away from it, the kind of process a test leaks.
const serverProgram = `
  const { spawn } = require('child_process');
  spawn('sleep', ['1000'], { stdio: 'ignore' });
  spawn('sh', ['-c', 'sleep 1000 &'], { stdio: 'ignore' });
  const server = require('http').createServer((req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('a server tree in a PID namespace', () => {
  let server;

  beforeEach(async () => {
    server = await spawnInPidNamespace(process.execPath, ['-e', serverProgram], { stdio: ['ignore', 'pipe', 'inherit'] });
  });

  afterEach(async () => {
    // Ending the command ends its namespace: the init kills whatever it left behind.
    server.kill('SIGTERM');
    await server.exited;
    expect(survivors(server.namespaceId)).toEqual([]);
  });

  test('answers requests, with its helpers running beside it', async () => {
    const [port] = await once(readline.createInterface({ input: server.stdout }), 'line');
    expect(await get(Number(port))).toBe(200);
    expect(server.nsPid).toBe(2);
    // The init (pid 1), the server (pid 2), its worker and the daemon, once the sh that started
    // the daemon has gone and left it to pid 1.
    await waitFor(() => survivors(server.namespaceId).length === 4);
  });
});
