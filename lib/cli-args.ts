// The pidns command line: what each command accepts, parsed into plain values. Every mistake is a
// UsageError with one line that says what is wrong; nothing here touches a process or the kernel.
import { parseArgs, type ParseArgsConfig } from 'util';
import { MAX_FD, MAX_PID } from './checks';
import type { NamespaceKind } from './enter';
import { HOSTNAME_MAX, TIME_OFFSET_MAX, type NewNamespaceKind } from './namespace-limits';
import type { TimeOffsets } from './namespaces';
import { PID_MAX_LIMIT, PID_MAX_MIN } from './pid-control';
import { EXIT_CANNOT_EXECUTE, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE } from './protocol';

/** A mistake on the command line: printed as one line, exit status EXIT_USAGE. */
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
  /** --no-new-namespace: false; --auto-namespace: 'auto'. */
  newNamespace: boolean | 'auto';
  waitAll: boolean;
  /** --pid-max N: the new namespace's pid_max, or null. */
  pidMax: number | null;
  /** --mount, --net, --uts, --ipc, --cgroup, --time: the other namespaces to make (options.namespaces). */
  namespaces: NewNamespaceKind[];
  /** --hostname NAME, or null. */
  hostname: string | null;
  /** --monotonic SECS and --boottime SECS, or null. */
  timeOffsets: TimeOffsets | null;
  statusFd: number | null;
  argv: string[];
}

export interface ExecArguments {
  command: 'exec';
  targetPid: number;
  /** --all: 'all'; --user, --mount, ...: those namespaces (options.joinNamespaces); null: only the PID namespace. */
  joinNamespaces: 'all' | NamespaceKind[] | null;
  mountProc: boolean;
  /** --ns-pid N: the pid CMD takes in the namespace, or null for the next free one. */
  nsPid: number | null;
  statusFd: number | null;
  argv: string[];
}

export interface PsArguments {
  command: 'ps';
  pid: number;
  json: boolean;
}

export interface DoctorArguments {
  command: 'doctor';
  json: boolean;
}

export type HelpArguments = { command: 'help'; topic: 'pidns' | 'run' | 'exec' | 'ps' | 'doctor' };
export type VersionArguments = { command: 'version' };

export type CliArguments = RunArguments | ExecArguments | PsArguments | DoctorArguments | HelpArguments | VersionArguments;

type Topic = HelpArguments['topic'];

/**
 * The options of each command, as util.parseArgs takes them: a flag, or an option with a value
 * (`--name VALUE` or `--name=VALUE`). Every command also takes -h/--help. An option is one line
 * here, its reading in the command's parse function below, and its line in HELP.
 */
type OptionConfig = NonNullable<ParseArgsConfig['options']>[string];
const flag = { type: 'boolean' } as const;
const value = { type: 'string' } as const;
export const OPTIONS = {
  pidns: { version: flag },
  run: {
    'no-init': flag,
    'mount-proc': flag,
    user: flag,
    join: value,
    'signal-group': flag,
    'no-new-namespace': flag,
    'auto-namespace': flag,
    'wait-all': flag,
    'pid-max': value,
    // unshare's flags for the namespaces it makes, and its --monotonic and --boottime.
    mount: { type: 'boolean', short: 'm' },
    net: { type: 'boolean', short: 'n' },
    uts: { type: 'boolean', short: 'u' },
    ipc: { type: 'boolean', short: 'i' },
    cgroup: { type: 'boolean', short: 'C' },
    time: { type: 'boolean', short: 'T' },
    hostname: value,
    monotonic: value,
    boottime: value,
    'status-fd': value,
  },
  exec: {
    target: { type: 'string', short: 't' },
    all: { type: 'boolean', short: 'a' },
    user: { type: 'boolean', short: 'U' },
    mount: { type: 'boolean', short: 'm' },
    net: { type: 'boolean', short: 'n' },
    uts: { type: 'boolean', short: 'u' },
    ipc: { type: 'boolean', short: 'i' },
    cgroup: { type: 'boolean', short: 'C' },
    time: { type: 'boolean', short: 'T' },
    pid: { type: 'boolean', short: 'p' },
    'mount-proc': flag,
    'ns-pid': value,
    'status-fd': value,
  },
  ps: { json: flag },
  doctor: { json: flag },
} as const satisfies Record<Topic, Record<string, OptionConfig>>;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

type OptionTable = Record<string, OptionConfig>;
/** What parseArgs found for a table: a string for an option with a value, true for a flag. */
type Values<T extends OptionTable> = { [K in keyof T]?: T[K]['type'] extends 'string' ? string : boolean };

/**
 * Parses argv against a command's options with util.parseArgs (strict). With operands 'command',
 * options end at `--` or at the first argument that is not an option, and everything after
 * belongs to the command untouched (as with env, nsenter and unshare), so `pidns run ls -l` runs
 * `ls -l`: parseArgs has no such mode, so a first, lenient pass over all of argv finds where the
 * command starts (its tokens say where the first positional or `--` is, with the values of known
 * options already taken), and the strict pass sees only the options before it.
 */
function parseOptions<T extends OptionTable>(
  command: string | null,
  argv: string[],
  table: T,
  operands: 'command' | 'positionals',
): { values: Values<T & typeof HELP_OPTION>; operands: string[] } {
  const options: OptionTable = { ...table, ...HELP_OPTION };
  let optionArgs = argv;
  let rest: string[] = [];
  if (operands === 'command') {
    const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
    const end = tokens.find((token) => token.kind !== 'option');
    if (end) {
      optionArgs = argv.slice(0, end.index);
      rest = argv.slice(end.kind === 'option-terminator' ? end.index + 1 : end.index);
    }
  }
  try {
    const parsed = parseArgs({ args: optionArgs, options, strict: true, allowPositionals: operands === 'positionals' });
    return { values: parsed.values as Values<T & typeof HELP_OPTION>, operands: operands === 'command' ? rest : parsed.positionals };
  } catch (err) {
    if (!String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw err;
    throw new UsageError(command, parseErrorOf(optionArgs, options) ?? String((err as Error).message).split('\n')[0]);
  }
}

/**
 * The one-line message for what strict parseArgs refused in args, naming the option. Its own
 * messages span lines and give advice for other programs; the lenient pass's tokens show the
 * first argument it would have refused.
 */
function parseErrorOf(args: string[], options: OptionTable): string | null {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') return `unexpected argument '${shown(token.value)}'`;
    if (token.kind !== 'option') continue;
    const name = shown(token.rawName);
    const type = Object.hasOwn(options, token.name) ? options[token.name].type : null;
    if (type === null) return `unknown option ${name}`;
    if (type === 'boolean' && token.value !== undefined) return `${name} takes no value`;
    if (type === 'string' && token.value === undefined) return `${name} needs a value`;
    // The next argument taken as the value looks like an option: say how to give such a value.
    if (type === 'string' && !token.inlineValue && token.value!.length > 1 && token.value!.startsWith('-')) {
      return `${name} needs a value (write ${name}=VALUE for one that starts with '-')`;
    }
  }
  return null;
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

function statusFdOf(command: string, text: string | undefined): number | null {
  return text === undefined ? null : integer(command, '--status-fd', text, 0, MAX_FD);
}

function commandOf(command: string, operands: string[]): string[] {
  if (operands.length === 0) throw new UsageError(command, 'missing the command to run (pidns ' + command + ' [OPTIONS] -- CMD [ARGS...])');
  if (operands[0] === '') throw new UsageError(command, 'the command to run is an empty string');
  return operands;
}

/** run's flags for the namespaces it makes besides the PID namespace, unshare's, each with its name in /proc/PID/ns. */
const NEW_NAMESPACE_FLAGS = [
  ['cgroup', 'cgroup'],
  ['ipc', 'ipc'],
  ['mount', 'mnt'],
  ['net', 'net'],
  ['time', 'time'],
  ['uts', 'uts'],
] as const satisfies readonly (readonly [keyof typeof OPTIONS.run, NewNamespaceKind])[];

/** A clock offset in seconds, as unshare --monotonic takes it (a negative one as --monotonic=-N). */
function offsetOf(what: string, text: string): number {
  if (!/^-?\d+$/.test(text) || Math.abs(Number(text)) > TIME_OFFSET_MAX) {
    throw new UsageError('run', `${what} must be an integer of seconds from -${TIME_OFFSET_MAX} to ${TIME_OFFSET_MAX}, got '${shown(text)}'`);
  }
  return Number(text);
}

/** --mount, --net, ..., --hostname, --monotonic and --boottime, checked against each other. */
function newNamespacesOf(values: { [K in keyof typeof OPTIONS.run]?: string | boolean }): Pick<RunArguments, 'namespaces' | 'hostname' | 'timeOffsets'> {
  const namespaces: NewNamespaceKind[] = NEW_NAMESPACE_FLAGS.filter(([flagName]) => values[flagName] === true).map(([, kind]) => kind);
  const hostname = typeof values.hostname === 'string' ? values.hostname : null;
  if (hostname !== null) {
    if (!namespaces.includes('uts')) throw new UsageError('run', '--hostname needs --uts (a host name is set in a UTS namespace of its own)');
    if (hostname === '' || Buffer.byteLength(hostname) > HOSTNAME_MAX) throw new UsageError('run', `--hostname must be 1 to ${HOSTNAME_MAX} bytes, got '${shown(hostname)}'`);
  }
  let timeOffsets: TimeOffsets | null = null;
  for (const clock of ['monotonic', 'boottime'] as const) {
    const text = values[clock];
    if (typeof text !== 'string') continue;
    if (!namespaces.includes('time')) throw new UsageError('run', `--${clock} needs --time (offsets belong to a time namespace of its own)`);
    timeOffsets = { ...(timeOffsets ?? {}), [clock]: offsetOf(`--${clock}`, text) };
  }
  return { namespaces, hostname, timeOffsets };
}

function parseRun(argv: string[]): RunArguments | HelpArguments {
  const { values, operands } = parseOptions('run', argv, OPTIONS.run, 'command');
  if (values.help) return { command: 'help', topic: 'run' };
  let join: number | string | null = null;
  if (values.join !== undefined) {
    if (values.join === '') throw new UsageError('run', '--join needs a pid or a namespace file path');
    join = /^\d+$/.test(values.join) ? integer('run', '--join', values.join, 1, MAX_PID) : values.join;
  }
  const userNamespace = values.user === true;
  if (join !== null && userNamespace) throw new UsageError('run', '--user cannot be used with --join (a joined namespace keeps its own user namespace)');
  const init = !values['no-init'] && join === null;
  const signalGroup = values['signal-group'] === true;
  if (signalGroup && !init) {
    throw new UsageError('run', `--signal-group needs the init, which ${join === null ? '--no-init' : '--join'} leaves out`);
  }
  const waitAll = values['wait-all'] === true;
  if (waitAll && !init) throw new UsageError('run', `--wait-all needs the init, which ${join === null ? '--no-init' : '--join'} leaves out`);
  const noNew = values['no-new-namespace'] === true;
  const auto = values['auto-namespace'] === true;
  if (noNew && auto) throw new UsageError('run', '--no-new-namespace and --auto-namespace cannot be used together');
  if (noNew || auto) {
    const mode = noNew ? '--no-new-namespace' : '--auto-namespace';
    const clash = join !== null ? '--join' : values['no-init'] ? '--no-init' : values['mount-proc'] ? '--mount-proc' : userNamespace ? '--user' : null;
    if (clash !== null) throw new UsageError('run', `${mode} cannot be used with ${clash} (it needs a new namespace)`);
    if (values['pid-max'] !== undefined) throw new UsageError('run', `--pid-max cannot be used with ${mode} (pid_max is set in a PID namespace of its own)`);
  }
  const newNamespaces = newNamespacesOf(values);
  const newNamespaceFlag = NEW_NAMESPACE_FLAGS.find(([flagName]) => values[flagName] === true);
  if (newNamespaceFlag && (join !== null || noNew || auto)) {
    const other = join !== null ? '--join (pidns exec --target PID with the same flags enters a process\'s namespaces)' : noNew ? '--no-new-namespace' : '--auto-namespace';
    throw new UsageError('run', `--${newNamespaceFlag[0]} cannot be used with ${other}: new namespaces are made with a new PID namespace`);
  }
  if (values['pid-max'] !== undefined && join !== null) throw new UsageError('run', "--pid-max cannot be used with --join (a namespace's pid_max is set by its creator)");
  const pidMax = values['pid-max'] === undefined ? null : integer('run', '--pid-max', values['pid-max'], PID_MAX_MIN, PID_MAX_LIMIT);
  return {
    command: 'run',
    init,
    mountProc: values['mount-proc'] === true,
    userNamespace,
    join,
    signalGroup,
    newNamespace: noNew ? false : auto ? 'auto' : true,
    waitAll,
    pidMax,
    ...newNamespaces,
    statusFd: statusFdOf('run', values['status-fd']),
    argv: commandOf('run', operands),
  };
}

/** exec's flags for the namespaces to enter, nsenter's, each with its name in /proc/PID/ns. */
const NAMESPACE_FLAGS = [
  ['user', 'user'],
  ['mount', 'mnt'],
  ['net', 'net'],
  ['uts', 'uts'],
  ['ipc', 'ipc'],
  ['cgroup', 'cgroup'],
  ['time', 'time'],
  ['pid', 'pid'],
] as const satisfies readonly (readonly [keyof typeof OPTIONS.exec, NamespaceKind])[];

function parseExec(argv: string[]): ExecArguments | HelpArguments {
  const { values, operands } = parseOptions('exec', argv, OPTIONS.exec, 'command');
  if (values.help) return { command: 'help', topic: 'exec' };
  if (values.target === undefined) throw new UsageError('exec', 'missing --target PID (the process whose namespace to enter)');
  const chosen: NamespaceKind[] = NAMESPACE_FLAGS.filter(([flagName]) => values[flagName] === true).map(([, kind]) => kind);
  return {
    command: 'exec',
    targetPid: integer('exec', '--target', values.target, 1, MAX_PID),
    joinNamespaces: values.all === true ? 'all' : chosen.length > 0 ? chosen : null,
    mountProc: values['mount-proc'] === true,
    nsPid: values['ns-pid'] === undefined ? null : integer('exec', '--ns-pid', values['ns-pid'], 2, PID_MAX_LIMIT - 1),
    statusFd: statusFdOf('exec', values['status-fd']),
    argv: commandOf('exec', operands),
  };
}

function parsePs(argv: string[]): PsArguments | HelpArguments {
  const { values, operands } = parseOptions('ps', argv, OPTIONS.ps, 'positionals');
  if (values.help) return { command: 'help', topic: 'ps' };
  if (operands.length === 0) throw new UsageError('ps', 'missing PID (a process of the namespace to list)');
  if (operands.length > 1) throw new UsageError('ps', `takes one PID, got ${operands.length} arguments`);
  return { command: 'ps', pid: integer('ps', 'PID', operands[0], 1, MAX_PID), json: values.json === true };
}

function parseDoctor(argv: string[]): DoctorArguments | HelpArguments {
  const { values, operands } = parseOptions('doctor', argv, OPTIONS.doctor, 'positionals');
  if (values.help) return { command: 'help', topic: 'doctor' };
  if (operands.length > 0) throw new UsageError('doctor', `unexpected argument '${shown(operands[0])}'`);
  return { command: 'doctor', json: values.json === true };
}

/** Parses the arguments after `pidns` (process.argv.slice(2)): its own options, then a command. */
export function parseCommandLine(argv: string[]): CliArguments {
  const { values, operands } = parseOptions(null, argv, OPTIONS.pidns, 'command');
  if (values.help) return { command: 'help', topic: 'pidns' };
  if (values.version) return { command: 'version' };
  const [command, ...rest] = operands;
  switch (command) {
    case undefined:
      throw new UsageError(null, 'missing command: run, exec, ps or doctor');
    case 'help':
      return { command: 'help', topic: 'pidns' };
    case 'run':
      return parseRun(rest);
    case 'exec':
      return parseExec(rest);
    case 'ps':
      return parsePs(rest);
    case 'doctor':
      return parseDoctor(rest);
    default:
      throw new UsageError(null, `unknown command '${shown(command)}': use run, exec, ps or doctor`);
  }
}

export const HELP: Record<HelpArguments['topic'], string> = {
  pidns: `Usage: pidns COMMAND [OPTIONS]

Run programs in Linux PID namespaces, with a tiny init as pid 1.

Commands:
  run [OPTIONS] -- CMD [ARGS...]       run CMD in a new PID namespace (or join one)
  exec --target PID -- CMD [ARGS...]   run CMD in the PID namespace of process PID
  ps PID [--json]                      list the processes of PID's namespace, with both pids
  doctor [--json]                      say what this machine allows, and how to enable the rest

Run 'pidns COMMAND --help' for a command's options. --version prints the version.
Creating or joining a namespace needs root (CAP_SYS_ADMIN), or 'run --user'; 'run
--no-new-namespace' needs neither.
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
  --wait-all         when CMD ends, wait for every other process of the namespace to exit
                     instead of ending them (the exit status is still CMD's)
  --no-new-namespace no new namespace, and no privilege needed (a container that refuses
                     namespaces): the init runs in your own PID namespace as a subreaper,
                     adopts CMD's orphans and ends every descendant when CMD ends
  --auto-namespace   a new namespace where permitted, else as --no-new-namespace
  --pid-max N        the new namespace's own pid_max (${PID_MAX_MIN} to ${PID_MAX_LIMIT}): pids inside stay
                     below N and a fork past it fails with EAGAIN; the host's is untouched
                     (Linux 6.14 or later)
  -m, --mount        also a new mount namespace (mounts made inside stay inside)
  -n, --net          also a new network namespace, with only the loopback interface, up
  -u, --uts          also a new UTS namespace (host name and domain name)
  -i, --ipc          also a new IPC namespace (System V IPC, POSIX message queues)
  -C, --cgroup       also a new cgroup namespace, rooted at CMD's cgroup
  -T, --time         also a new time namespace (see --monotonic and --boottime)
  --hostname NAME    with --uts: the host name inside (at most ${HOSTNAME_MAX} bytes)
  --monotonic SECS   with --time: add SECS to CLOCK_MONOTONIC inside (--monotonic=-SECS
                     for a negative offset)
  --boottime SECS    with --time: add SECS to CLOCK_BOOTTIME (and /proc/uptime) inside
                     These read as unshare's; as root, or with --user, without privilege.
  --status-fd N      write JSON lines to descriptor N (one passed down to pidns, open for
                     writing):
                       {"event":"spawn","pid":..,"nsPid":..,"namespaceId":..,"initPid":..,
                        "pidNamespace":"new"|"joined"|"caller"}
                       {"event":"exit","code":..,"signal":..,"usage":{"userCPUTime":..,
                        "systemCPUTime":..,"maxRSS":..}}
                     or {"event":"error","code":..,"message":..} if CMD could not be started
  -h, --help         show this help

Every signal sent to pidns that can be caught (all but SIGKILL, SIGSTOP and SIGCHLD, real-time
ones included) is forwarded to CMD; none ends pidns. One that arrives while pidns is starting is
held and delivered once CMD exists, as tini does; if CMD cannot be started, pidns exits with that
failure's status and nothing is left running. Only in Node's own start-up, before pidns runs,
does a signal act as on any program (SIGTERM or SIGINT then ends pidns, which has started
nothing); real-time signals are caught once the native addon has loaded.

When stdin is a terminal, CMD runs in a process group of its own that has the terminal. When CMD
stops (Ctrl-Z) while pidns is in the foreground of its controlling terminal, pidns stops too;
when pidns is continued (fg), it continues CMD. Without a terminal pidns keeps running, and CMD
stays stopped until something continues it (SIGCONT to CMD, or to pidns, which forwards it).

Exit status:
  CMD's own exit status, or 128+N if signal N ended it
  ${EXIT_USAGE}    bad usage
  ${EXIT_FAILED}  pidns itself failed (for example EPERM: not root and no --user or
       --no-new-namespace, or its
       native addon is not built: npm rebuild pidns)
  ${EXIT_CANNOT_EXECUTE}  CMD was found but could not be executed
  ${EXIT_NOT_FOUND}  CMD was not found
`,
  exec: `Usage: pidns exec --target PID [OPTIONS] [--] CMD [ARGS...]

Runs CMD in the PID namespace of process PID (what nsenter --pid does), and with --all or the
flags below in its other namespaces too. CMD gets the next free pid there, stays a child of
pidns, and is killed by the kernel if the namespace's pid 1 exits.

Options:
  -t, --target PID   the process whose PID namespace CMD joins (required)
  -a, --all          enter every namespace of PID that is not already yours, and take its root
                     and working directory: 'pidns exec -t PID --all -- sh' is a shell in a
                     running container (nsenter -a -r -w does the same, without the init's pid
                     reporting and signal forwarding)
  -U, --user         enter PID's user namespace (CMD is uid 0 and gid 0 there, as with nsenter)
  -m, --mount        enter PID's mount namespace, and take its root and working directory;
                     CMD is looked up in PID's root
  -n, --net          enter PID's network namespace
  -u, --uts          enter PID's UTS namespace (hostname)
  -i, --ipc          enter PID's IPC namespace
  -C, --cgroup       enter PID's cgroup namespace
  -T, --time         enter PID's time namespace: refused when it is not yours (the kernel
                     lets no process that shares memory with another enter one)
  -p, --pid          enter PID's PID namespace (always done)
                     Namespaces are entered in nsenter's order: as root the user namespace
                     last, otherwise first.
  --mount-proc       give CMD a new mount namespace with a /proc of the joined PID namespace
  --ns-pid N         CMD takes pid N in the namespace (2 to ${PID_MAX_LIMIT - 1}) instead of the next free
                     one; fails if N is in use (needs CAP_SYS_ADMIN over the namespace's owner)
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

Exit status: 0, ${EXIT_USAGE} for bad usage, ${EXIT_FAILED} when PID does not exist, when the namespace has ended
(its pid 1 has exited, before or while the list was read) or /proc cannot be read.
`,
  doctor: `Usage: pidns doctor [--json]

Says what this machine allows pidns to do, one line a check, and for whatever is missing how to
enable it: new PID namespaces (tried: the init is started in one), the mode without a new
namespace, user namespaces (tried, and the settings that allow them), pidfds, clone3 with
CLONE_INTO_CGROUP, close_range, cgroup v2, a pid_max per namespace, the seccomp mode, whether this
runs in a container, and which addon and init are loaded. Nothing is left running and no setting
is written.

Options:
  --json             print one JSON object instead: {"ok", "checks": {NAME: {"ok", ..., "hint"}}}
  -h, --help         show this help

Exit status: 0 when the default mode (a new PID namespace with the init) works here, 1 when it
does not, ${EXIT_USAGE} for bad usage.
`,
};
