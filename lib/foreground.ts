// options.foreground: the command as the foreground job of the caller's terminal, and the caller
// as the job a shell sees. The command leads a process group of its own that gets the terminal
// (when the caller's stdin is a terminal and the caller is in its foreground); when the command is
// stopped and the caller is the foreground job of its controlling terminal, the caller takes the
// terminal back and stops with the same signal, so that the shell above sees its job stop; when
// the caller is continued, it gives the terminal back (only if the shell gave it the terminal:
// `fg`, not `bg`) and continues the command. This is how sudo runs a command without a
// pseudo-terminal. Without a terminal no shell would continue the caller, so it keeps running.
import * as fs from 'fs';
import { native } from './native';
import type { StdioEntry } from './options';
import { isStopped } from './proc';
import { signalNumber } from './signals';

const SIGCONT = signalNumber('SIGCONT');

/** Whether descriptor 0 of the command is ours and a terminal whose foreground group is ours. */
export function terminalIsOurs(stdio: readonly StdioEntry[]): boolean {
  if (stdio[0] !== 'inherit' && stdio[0] !== 0) return false;
  const group = native.foregroundGroup(0);
  return group > 0 && group === native.processGroup();
}

/**
 * Whether this process has a controlling terminal and is in its foreground process group: only
 * then is there a shell whose job stops with us, and that continues us (fg). Without one (a
 * service, a program started by another without a terminal), or in a background group (under
 * `timeout`, say), nothing might ever continue us.
 */
function inForegroundOfControllingTerminal(): boolean {
  let fd: number;
  try {
    fd = fs.openSync('/dev/tty', fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  } catch {
    return false; // ENXIO: no controlling terminal
  }
  try {
    const group = native.foregroundGroup(fd);
    return group > 0 && group === native.processGroup();
  } finally {
    fs.closeSync(fd);
  }
}

function takeTerminal(): void {
  const own = native.processGroup();
  if (native.foregroundGroup(0) !== own) native.setForegroundGroup(0, own);
}

export class ForegroundJob {
  readonly #pid: number;
  readonly #ownGroup: boolean;
  readonly #withTerminal: boolean;
  readonly #signalCommand: (signo: number) => void;
  /** Whether the command's group holds the terminal because we gave it. */
  #handedOver: boolean;
  #ended = false;
  #watchChild: (() => void) | null = null;

  /**
   * pid: the command, which leads its own process group when ownGroup. withTerminal: the
   * command was made the terminal's foreground group when it started. signalCommand: sends a
   * signal the way child.kill() does.
   */
  constructor(pid: number, ownGroup: boolean, withTerminal: boolean, signalCommand: (signo: number) => void) {
    this.#pid = pid;
    this.#ownGroup = ownGroup;
    this.#withTerminal = withTerminal;
    this.#handedOver = withTerminal;
    this.#signalCommand = signalCommand;
  }

  /**
   * For a command that is our own child (no init between): its stops are collected on SIGCHLD
   * with waitid(WSTOPPED), which leaves its exit to the exit watcher.
   */
  watchChildStops(): void {
    this.#watchChild = () => {
      const signo = native.stopSignalOf(this.#pid);
      if (signo > 0) this.commandStopped(signo);
    };
    process.on('SIGCHLD', this.#watchChild);
  }

  /** The command was stopped by signo. Runs synchronously through our own stop. */
  commandStopped(signo: number): void {
    // A report can be stale: the command may have been continued since.
    if (this.#ended || !isStopped(this.#pid)) return;
    // The terminal is the command's because we gave it: we are the shell's foreground job.
    // Otherwise the command stays stopped, and we wait for whoever continues it.
    if (!this.#handedOver && !inForegroundOfControllingTerminal()) return;
    if (this.#handedOver) {
      takeTerminal();
      this.#handedOver = false;
    }
    native.stopProcess(signo);
    // Continued (or never stopped: the kernel does not stop an orphaned process group, and the
    // command is then continued at once, as it would be in that group).
    if (this.#withTerminal && native.foregroundGroup(0) === native.processGroup()) {
      this.#handedOver = native.setForegroundGroup(0, this.#pid) === 0;
    }
    if (!this.#ownGroup) {
      this.#signalCommand(SIGCONT);
      return;
    }
    try {
      // The whole group: a shell without job control stops with its children on Ctrl-Z.
      process.kill(-this.#pid, SIGCONT);
    } catch {
      // ESRCH: the group ended meanwhile; the exit is reported on its own.
    }
  }

  /** The command has ended: the terminal comes back to our group if we gave it away. */
  end(): void {
    this.#ended = true;
    if (this.#watchChild) process.removeListener('SIGCHLD', this.#watchChild);
    if (this.#handedOver) takeTerminal();
    this.#handedOver = false;
  }
}
