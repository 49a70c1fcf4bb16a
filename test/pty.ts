// A program run on a pseudo-terminal of its own (fixtures/pty-relay.py), typed into and read like a
// terminal, with descriptor 3 a pipe for pidns's --status-fd.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { fixture } from './subprocess';

export interface StatusEvent {
  event: string;
  [field: string]: unknown;
}

export class Terminal {
  readonly relay: ChildProcess;
  /** Everything the terminal has shown so far. */
  shown = '';
  /** The JSON lines written to descriptor 3 so far. */
  readonly events: StatusEvent[] = [];
  /** The wait status of the program on the terminal, once it has ended ({} if the relay was killed). */
  readonly ended: Promise<{ code?: number; signal?: number }>;
  #waiters: (() => void)[] = [];

  constructor(argv: string[]) {
    this.relay = spawn('python3', [fixture('pty-relay.py'), ...argv], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    this.relay.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.shown += text;
      this.#wake();
    });
    let statusText = '';
    (this.relay.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (text: string) => {
      statusText += text;
      const lines = statusText.split('\n');
      statusText = lines.pop()!;
      for (const line of lines) if (line) this.events.push(JSON.parse(line) as StatusEvent);
      this.#wake();
    });
    let errors = '';
    this.relay.stderr!.setEncoding('utf8').on('data', (text: string) => (errors += text));
    this.ended = new Promise((resolve) => {
      this.relay.once('close', () => {
        const last = errors.trim().split('\n').pop() ?? '';
        resolve(last.startsWith('{') ? (JSON.parse(last) as { code?: number; signal?: number }) : {});
      });
    });
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once check() holds, re-checked whenever the terminal shows more or an event comes. */
  until(check: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const test = () => (check() ? resolve() : this.#waiters.push(test));
      test();
    });
  }

  /** Resolves once the terminal has shown text (anywhere after `from`). */
  showing(text: string | RegExp, from = 0): Promise<void> {
    return this.until(() => {
      const rest = this.shown.slice(from);
      return typeof text === 'string' ? rest.includes(text) : text.test(rest);
    });
  }

  /** The first status event of that kind (spawn, exit). */
  async event(kind: string): Promise<StatusEvent> {
    await this.until(() => this.events.some((e) => e.event === kind));
    return this.events.find((e) => e.event === kind)!;
  }

  /** Types text into the terminal (Ctrl-C is '\x03', Ctrl-D '\x04', Ctrl-Z '\x1a'). */
  type(text: string): void {
    this.relay.stdin!.write(text);
  }

  /** Closes the terminal: its session leader gets SIGHUP. */
  hangUp(): void {
    this.relay.stdin!.end();
  }

  kill(): void {
    if (this.relay.exitCode === null && this.relay.signalCode === null) this.relay.kill('SIGKILL');
  }
}

/** Fields of /proc/PID/stat by their number in proc(5) (3 state, 5 pgrp, 6 session, 8 tpgid). */
export function statField(pid: number, field: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field - 3];
}
