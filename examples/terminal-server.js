#!/usr/bin/env node
// A tiny terminal server: every TCP connection gets a bash on its own pseudo-terminal, in its own
// PID namespace (with a /proc of it, so ps shows only the session). The connection carries what
// the user types one way and what the screen shows the other; a window size arrives in-band as
// the xterm sequence ESC [ 8 ; ROWS ; COLS t. Closing the connection hangs the terminal up, and
// the namespace ends with everything the session started.
//
// Run as root from the package directory: node examples/terminal-server.js
// It serves on 127.0.0.1, connects to itself, drives one session and checks what it saw.
'use strict';
const net = require('net');
const { spawnInPidNamespace } = require('..');

const RESIZE = /\x1b\[8;(\d+);(\d+)t/g;

async function serveSession(socket) {
  const shell = await spawnInPidNamespace('bash', ['--norc', '--noprofile', '-i'], {
    terminal: { cols: 80, rows: 24 },
    mountProc: true,
    env: { PATH: process.env.PATH, TERM: 'xterm', PS1: 'session$ ', HOME: '/root' },
  });
  console.log(`server: bash is pid ${shell.pid} here, pid ${shell.nsPid} in namespace ${shell.namespaceId}`);
  shell.terminal.pipe(socket);
  socket.on('data', (data) => {
    // latin1 maps bytes to characters one to one, so typed UTF-8 passes through unchanged.
    const text = data.toString('latin1');
    for (const [, rows, cols] of text.matchAll(RESIZE)) shell.resize(Number(cols), Number(rows));
    const typed = text.replace(RESIZE, '');
    if (typed && shell.terminal.writable) shell.terminal.write(Buffer.from(typed, 'latin1'));
  });
  // The user went away: hang up, as closing a terminal window does (bash gets SIGHUP).
  socket.on('close', () => shell.terminal.destroy());
  socket.on('error', () => {});
  const { code, signal } = await shell.exited;
  console.log(`server: session of pid ${shell.pid} ended (${signal ?? `exit ${code}`})`);
}

/** A client that types a few lines, one after each prompt, and returns the whole transcript. */
function runClient(port) {
  const lines = ['ps -e -o pid=,comm=', '\x1b[8;40;120tstty size', 'exit 3'];
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let transcript = '';
    let prompts = 0;
    socket.setEncoding('utf8');
    socket.on('data', (text) => {
      transcript += text;
      const seen = transcript.split('session$ ').length - 1;
      if (seen > prompts && lines.length > 0) {
        prompts = seen;
        socket.write(`${lines.shift()}\r`);
      }
    });
    socket.on('end', () => resolve(transcript));
    socket.on('error', reject);
  });
}

async function main() {
  const sessions = [];
  const server = net.createServer((socket) => sessions.push(serveSession(socket)));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const transcript = await runClient(server.address().port);
    await Promise.all(sessions);
    const screen = transcript.replace(/\x1b\[[?0-9;]*[a-zA-Z]/g, '').replace(/\r/g, '');
    console.log(screen.trimEnd());
    const ok = /^\s*1 pidns-init\n\s*2 bash\n\s*3 ps$/m.test(screen) && /\n40 120\n/.test(screen);
    console.log(ok ? 'terminal-server: the session saw its own namespace and its new size' : 'terminal-server: FAILED');
    process.exitCode = ok ? 0 : 1;
  } finally {
    server.close();
  }
}

main().catch((err) => {
  console.error(`terminal-server: ${err.message}`);
  process.exitCode = 1;
});
