// The pidns command line: what each command accepts, parsed into plain values. Every mistake is a
// UsageError with one line that says what is wrong; nothing here touches a process or the kernel.

/** A mistake on the command line: printed as one line, exit status 2. */
export class UsageError extends Error {
  readonly command: string | null;
  constructor(command: string | null, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

export interface RunArguments {
  command: 'run';
  init: boolean;
  mountProc: boolean;
  userNamespace: boolean;
  /** A pid, or the path of a namespace file such as /proc/PID/ns/pid. */
  join: number | string | null;
  signalGroup: boolean;
  statusFd: number | null;
  argv: string[];
}

export interface ExecArguments {
  command: 'exec';
  targetPid: number;
  mountProc: boolean;
  statusFd: number | null;
  argv: string[];
}

export interface PsArguments {
  command: 'ps';
  pid: number;
  json: boolean;
}

export type HelpArguments = { command: 'help'; topic: 'pidns' | 'run' | 'exec' | 'ps' };
export type VersionArguments = { command: 'version' };

export type CliArguments = RunArguments | ExecArguments | PsArguments | HelpArguments | VersionArguments;

/** An option's name, and whether it takes a value (`--name VALUE` or `--name=VALUE`). */
type OptionSpec = Record<string, 'flag' | 'value'>;

const RUN_OPTIONS: OptionSpec = {
  '--no-init': 'flag',
  '--mount-proc': 'flag',
  '--user': 'flag',
  '--join': 'value',
  '--signal-group': 'flag',
  '--status-fd': 'value',
};
const EXEC_OPTIONS: OptionSpec = { '--target': 'value', '--mount-proc': 'flag', '--status-fd': 'value' };
const PS_OPTIONS: OptionSpec = { '--json': 'flag' };

const MAX_PID = 0x400000; // PID_MAX_LIMIT on 64-bit kernels
const MAX_FD = 0x7fffffff;

interface Parsed {
  options: Map<string, string | true>;
  /** With takesCommand: the command and its arguments. Otherwise: the positional arguments. */
  operands: string[];
  help: boolean;
}

/**
 * Splits options from operands. With takesCommand, options end at `--` or at the first argument
 * that is not an option, and everything after belongs to the command untouched (as with env,
 * nsenter and unshare), so `pidns run ls -l` runs `ls -l`.
 */
function parseOptions(command: string, argv: string[], spec: OptionSpec, takesCommand: boolean): Parsed {
  const parsed: Parsed = { options: new Map(), operands: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      parsed.operands.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (takesCommand) {
        parsed.operands.push(...argv.slice(i));
        break;
      }
      parsed.operands.push(arg);
      continue;
    }
    if (arg === '--help' || arg === '-h') {
      parsed.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(command, `unknown option ${shown(name)}`);
    if (kind === 'flag') {
      if (eq > 0) throw new UsageError(command, `${name} takes no value`);
      parsed.options.set(name, true);
      continue;
    }
    let value: string;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(command, `${name} needs a value`);
      value = argv[++i];
    }
    parsed.options.set(name, value);
  }
  return parsed;
}

/** An argument as it can be shown in a one-line message. */
function shown(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}...` : clean;
}

function integer(command: string, what: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(command, `${what} must be an integer from ${min} to ${max}, got '${shown(text)}'`);
  }
  return Number(text);
}

function statusFdOf(command: string, options: Map<string, string | true>): number | null {
  const value = options.get('--status-fd');
  return typeof value === 'string' ? integer(command, '--status-fd', value, 0, MAX_FD) : null;
}

function commandOf(command: string, operands: string[]): string[] {
  if (operands.length === 0) throw new UsageError(command, 'missing the command to run (pidns ' + command + ' [OPTIONS] -- CMD [ARGS...])');
  if (operands[0] === '') throw new UsageError(command, 'the command to run is an empty string');
  return operands;
}

function parseRun(argv: string[]): RunArguments | HelpArguments {
  const { options, operands, help } = parseOptions('run', argv, RUN_OPTIONS, true);
  if (help) return { command: 'help', topic: 'run' };
  let join: number | string | null = null;
  const joinValue = options.get('--join');
  if (typeof joinValue === 'string') {
    if (joinValue === '') throw new UsageError('run', '--join needs a pid or a namespace file path');
    join = /^\d+$/.test(joinValue) ? integer('run', '--join', joinValue, 1, MAX_PID) : joinValue;
  }
  if (join !== null && options.has('--user')) throw new UsageError('run', '--user cannot be used with --join (a joined namespace keeps its own user namespace)');
  const init = !options.has('--no-init') && join === null;
  const signalGroup = options.has('--signal-group');
  if (signalGroup && !init) {
    throw new UsageError('run', `--signal-group needs the init, which ${join === null ? '--no-init' : '--join'} leaves out`);
  }
  return {
    command: 'run',
    init,
    mountProc: options.has('--mount-proc'),
    userNamespace: options.has('--user'),
    join,
    signalGroup,
    statusFd: statusFdOf('run', options),
    argv: commandOf('run', operands),
  };
}

function parseExec(argv: string[]): ExecArguments | HelpArguments {
  const { options, operands, help } = parseOptions('exec', argv, EXEC_OPTIONS, true);
  if (help) return { command: 'help', topic: 'exec' };
  const target = options.get('--target');
  if (typeof target !== 'string') throw new UsageError('exec', 'missing --target PID (the process whose namespace to enter)');
  return {
    command: 'exec',
    targetPid: integer('exec', '--target', target, 1, MAX_PID),
    mountProc: options.has('--mount-proc'),
    statusFd: statusFdOf('exec', options),
    argv: commandOf('exec', operands),
  };
}

function parsePs(argv: string[]): PsArguments | HelpArguments {
  const { options, operands, help } = parseOptions('ps', argv, PS_OPTIONS, false);
  if (help) return { command: 'help', topic: 'ps' };
  if (operands.length === 0) throw new UsageError('ps', 'missing PID (a process of the namespace to list)');
  if (operands.length > 1) throw new UsageError('ps', `takes one PID, got ${operands.length} arguments`);
  return { command: 'ps', pid: integer('ps', 'PID', operands[0], 1, MAX_PID), json: options.has('--json') };
}

/** Parses the arguments after `pidns` (process.argv.slice(2)). */
export function parseCommandLine(argv: string[]): CliArguments {
  const [first, ...rest] = argv;
  switch (first) {
    case undefined:
      throw new UsageError(null, 'missing command: run, exec or ps');
    case '--help':
    case '-h':
    case 'help':
      return { command: 'help', topic: 'pidns' };
    case '--version':
      return { command: 'version' };
    case 'run':
      return parseRun(rest);
    case 'exec':
      return parseExec(rest);
    case 'ps':
      return parsePs(rest);
    default:
      throw new UsageError(null, first.startsWith('-') ? `unknown option ${shown(first)}` : `unknown command '${shown(first)}': use run, exec or ps`);
  }
}

export const HELP: Record<HelpArguments['topic'], string> = {
  pidns: `Usage: pidns COMMAND [OPTIONS]

Run programs in Linux PID namespaces, with a tiny init as pid 1.

Commands:
  run [OPTIONS] -- CMD [ARGS...]       run CMD in a new PID namespace (or join one)
  exec --target PID -- CMD [ARGS...]   run CMD in the PID namespace of process PID
  ps PID [--json]                      list the processes of PID's namespace, with both pids

Run 'pidns COMMAND --help' for a command's options. --version prints the version.
Creating or joining a namespace needs root (CAP_SYS_ADMIN), or 'run --user'.
`,
  run: `Usage: pidns run [OPTIONS] [--] CMD [ARGS...]

Runs CMD in a new PID namespace. By default the bundled init is pid 1 and CMD is pid 2: the
init forwards signals to CMD, reaps orphans, and when CMD ends it ends the rest of the namespace.
stdin, stdout and stderr are CMD's own, so an interactive shell works.

Options:
  --no-init          CMD itself is pid 1 (it then ignores signals it has no handler for,
                     and its exit kills every other process in the namespace)
  --mount-proc       give CMD a new mount namespace with a /proc of its PID namespace,
                     so ps inside shows only the namespace's processes
  --user             also create a user namespace: works without root (you are root inside)
  --join PID|PATH    enter an existing PID namespace (that of process PID, or a namespace
                     file such as /proc/PID/ns/pid) instead of creating one; implies --no-init
  --signal-group     forwarded signals go to CMD's whole process group (CMD leads it)
  --status-fd N      write JSON lines to descriptor N (one passed down to pidns, open for
                     writing):
                       {"event":"spawn","pid":..,"nsPid":..,"namespaceId":..,"initPid":..}
                       {"event":"exit","code":..,"signal":..,"usage":{"userCPUTime":..,
                        "systemCPUTime":..,"maxRSS":..}}
                     or {"event":"error","code":..,"message":..} if CMD could not be started
  -h, --help         show this help

Every signal sent to pidns that can be caught (all but SIGKILL, SIGSTOP and SIGCHLD, real-time
ones included) is forwarded to CMD; none ends pidns. When stdin is a terminal, CMD runs in a
process group of its own that has the terminal. When CMD stops (Ctrl-Z) while pidns is in the
foreground of its controlling terminal, pidns stops too; when pidns is continued (fg), it
continues CMD. Without a terminal pidns keeps running, and CMD stays stopped until something
continues it (SIGCONT to CMD, or to pidns, which forwards it).

Exit status:
  CMD's own exit status, or 128+N if signal N ended it
  2    bad usage
  125  pidns itself failed (for example EPERM: not root and no --user)
  126  CMD was found but could not be executed
  127  CMD was not found
`,
  exec: `Usage: pidns exec --target PID [OPTIONS] [--] CMD [ARGS...]

Runs CMD in the PID namespace of process PID (what nsenter --pid does). CMD gets the next free
pid there, stays a child of pidns, and is killed by the kernel if the namespace's pid 1 exits.

Options:
  --target PID       the process whose PID namespace CMD joins (required)
  --mount-proc       give CMD a new mount namespace with a /proc of the joined PID namespace
  --status-fd N      write JSON lines to descriptor N (passed down to pidns), as 'pidns run'
                     does
  -h, --help         show this help

Signals and exit status: as for 'pidns run' (see pidns run --help).
`,
  ps: `Usage: pidns ps PID [--json]

Lists every process in the PID namespace of process PID: its pid in your view (PID), its pid
inside the namespace (NSPID), its parent's pid in your view (PPID, 0 when the parent is outside
your view) and its command line.

Options:
  --json             print a JSON array of {"pid","nsPid","ppid","command"} instead of a table
  -h, --help         show this help

Exit status: 0, 2 for bad usage, 125 when PID does not exist, when the namespace has ended
(its pid 1 has exited, before or while the list was read) or /proc cannot be read.
`,
};
