// The README's examples, run as the README shows them, so that what it says stays true.
//
// Every fenced block tagged js, ts, sh or console is an example, and each one runs unless an HTML
// comment just before it says `<!-- not run: REASON -->`; `<!-- run as nobody -->` runs it as
// nobody (uid 65534, no capabilities) instead of root.
// - js and ts: the block is the body of an async function, after the README's own line
//   `const { ... } = require('pidns')`; ts is first compiled by TypeScript. A js block whose first
//   line is `// NAME.js` is a file the other examples use (written, not run).
//   `// prints: TEXT` marks what the block prints, `// prints e.g.: TEXT` the same with numbers
//   that differ from run to run: together, in order, they must be the block's whole stdout.
// - sh: each line is a command, which must succeed; `# prints: TEXT` is its whole stdout.
// - console: `$ COMMAND` lines, each followed by what it prints (stdout and stderr together).
// Output is compared with every run of white space as one space, so a printed object may be
// written on one line. Examples run from a copy of the package every user can read (the one the
// rootless tests use), where `require('pidns')` and the `pidns` command lead; `sudo` runs its
// command as it is (the examples run as root), and `npx pidns` is the package's own command
// (scripts/ci-pack.sh checks npx's lookup). Each example must end within its timeout and leave
// no process behind: every process it starts carries a variable of its own, looked for in /proc.
import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { publicInstall } from './public-install';
import { describeAsRoot } from './root';

const projectRoot = path.join(__dirname, '..');
const README = 'README.md';
const RUNNABLE = ['js', 'ts', 'sh', 'console'];
const EXAMPLE_TIMEOUT_MS = 30000;
const MARKER = 'PIDNS_README_EXAMPLE';

interface Block {
  /** Line of the opening fence, 1-based. */
  line: number;
  lang: string;
  code: string;
  /** The HTML comment just before the fence, if any. */
  comment: string | null;
}

interface Example extends Block {
  notRun: string | null;
  asNobody: boolean;
  /** For a js block that is a file: its name. */
  file: string | null;
}

function readBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```([\w-]*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    let end = i + 1;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    if (end === lines.length) throw new Error(`${README}:${i + 1}: a code block that is not closed`);
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const comment = before >= 0 ? /^\s*<!--\s*(.*?)\s*-->\s*$/.exec(lines[before])?.[1] ?? null : null;
    const code = lines.slice(i + 1, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))).join('\n');
    blocks.push({ line: i + 1, lang: open[2], code, comment });
    i = end;
  }
  return blocks;
}

function toExample(block: Block): Example {
  let notRun: string | null = null;
  let asNobody = false;
  if (block.comment !== null) {
    const reason = /^not run:\s*(.+)$/.exec(block.comment);
    if (reason) notRun = reason[1];
    else if (block.comment === 'run as nobody') asNobody = true;
    else throw new Error(`${README}:${block.line}: unknown comment before an example: <!-- ${block.comment} -->`);
  }
  const file = block.lang === 'js' ? (/^\/\/ ([\w.-]+\.js)\n/.exec(block.code)?.[1] ?? null) : null;
  return { ...block, notRun, asNobody, file };
}

const blocks = readBlocks(fs.readFileSync(path.join(projectRoot, README), 'utf8'));
const examples = blocks.filter((b) => RUNNABLE.includes(b.lang)).map(toExample);
/** The README's line that every API example assumes. */
const apiLine = examples.find((e) => /^const \{[\w\s,]+\} = require\('pidns'\);$/.test(e.code));

// ---- Expected output.

const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim();
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pattern for what was printed: exact, or with any number where the README shows one. */
function pattern(pieces: { text: string; anyNumbers: boolean }[]): RegExp {
  const source = pieces
    .map(({ text, anyNumbers }) => (anyNumbers ? collapse(text).split(/\d+/).map(escape).join('\\d+') : escape(collapse(text))))
    .join(' ');
  return new RegExp(`^${source}$`);
}

/** `// prints: X` (or `# prints: X`) comments, in order. */
function printsComments(code: string, comment: '//' | '#'): { text: string; anyNumbers: boolean }[] {
  const re = new RegExp(`${escape(comment)} prints( e\\.g\\.)?: (.*)$`);
  return code.split('\n').flatMap((line) => {
    const m = re.exec(line);
    return m ? [{ text: m[2], anyNumbers: m[1] !== undefined }] : [];
  });
}

// ---- Running.

interface Place {
  /** Where the examples run (their working folder, which holds the README's files). */
  dir: string;
  env: NodeJS.ProcessEnv;
  node: string;
}

let place: Place | undefined;

/** The copy of the package, with a NODE_PATH folder that leads `pidns` to it and the command shims. */
function examplePlace(): Place {
  if (place) return place;
  const { root, node } = publicInstall();
  const dir = path.join(root, 'readme');
  const bin = path.join(dir, 'bin');
  const modules = path.join(dir, 'node_path');
  for (const folder of [dir, bin, modules]) fs.mkdirSync(folder, { recursive: true, mode: 0o755 });
  fs.symlinkSync(root, path.join(modules, 'pidns'));
  const shim = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  shim('pidns', `exec ${JSON.stringify(node)} ${JSON.stringify(path.join(root, 'dist', 'cli.js'))} "$@"`);
  shim('sudo', 'exec "$@"');
  shim('npx', 'exec "$@"');
  for (const example of examples) {
    if (example.file && !example.notRun) fs.writeFileSync(path.join(dir, example.file), `${example.code}\n`, { mode: 0o644 });
  }
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, NODE_PATH: modules };
  delete env.NODE_OPTIONS; // jest's own settings are not the examples'
  place = { dir, env, node };
  return place;
}

/** The program a js or ts example becomes. */
function program(example: Example): string {
  let body = example.code;
  if (example.lang === 'ts') {
    const out = ts.transpileModule(body, {
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'] },
    });
    const errors = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    if (errors.length > 0) throw new Error(`${README}:${example.line}: TypeScript: ${errors.join('; ')}`);
    body = out.outputText;
  }
  // The block is a scope of its own, so it may declare the names of the API line again.
  return `${apiLine!.code}\n(async () => {\n{\n${body}\n}\n})().catch((err) => { console.error(err); process.exitCode = 1; });\n`;
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Processes of the example still there after it ended (killed by then). */
  left: string[];
}

/** Every process whose environment holds the marker, as "pid command". */
function marked(marker: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) continue;
      found.push(`${entry} ${fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ').trim()}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** Runs a command line as root or nobody in the examples' folder, then makes sure nothing of it is left. */
function run(command: string[], asNobody: boolean, timeoutMs = EXAMPLE_TIMEOUT_MS): Run {
  const { dir, env } = examplePlace();
  const marker = `${MARKER}=${randomBytes(8).toString('hex')}`;
  const [file, ...args] = asNobody
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--', 'env', `--chdir=${dir}`, ...command]
    : command;
  const result = spawnSync(file, args, {
    cwd: dir,
    env: { ...env, [MARKER]: marker.slice(MARKER.length + 1) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  // What the example started ends with it (the kernel may take a moment to kill a namespace).
  let left = marked(marker);
  for (const deadline = Date.now() + 5000; left.length > 0 && Date.now() < deadline; left = marked(marker)) {
    spawnSync('sleep', ['0.05']);
  }
  for (const entry of left) {
    try {
      process.kill(Number(entry.split(' ')[0]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return { status: result.status, signal: result.signal, stdout: result.stdout ?? '', stderr: result.stderr ?? '', left };
}

function report(example: Example, what: string, r: Run): string {
  return `${README}:${example.line} ${what}: status ${r.status}${r.signal ? ` (killed: ${r.signal}, timeout ${EXAMPLE_TIMEOUT_MS} ms)` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function runScript(example: Example): void {
  const { dir, node } = examplePlace();
  const script = path.join(dir, `example-${example.line}.js`);
  fs.writeFileSync(script, program(example), { mode: 0o644 });
  const r = run([node, script], example.asNobody);
  expect({ left: r.left }).toEqual({ left: [] });
  if (r.status !== 0) throw new Error(report(example, 'failed', r));
  const expected = printsComments(example.code, '//');
  if (expected.length > 0 && !pattern(expected).test(collapse(r.stdout))) {
    throw new Error(`${report(example, 'printed something else', r)}--- expected\n${expected.map((p) => p.text).join('\n')}`);
  }
}

function runShell(example: Example): void {
  for (const line of example.code.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const r = run(['sh', '-c', line], example.asNobody);
    expect({ line, left: r.left }).toEqual({ line, left: [] });
    if (r.status !== 0) throw new Error(report(example, `\`${line}\` failed`, r));
    const expected = printsComments(line, '#');
    if (expected.length > 0 && !pattern(expected).test(collapse(r.stdout))) {
      throw new Error(`${report(example, `\`${line}\` printed something else`, r)}--- expected\n${expected[0].text}`);
    }
  }
}

function runTranscript(example: Example): void {
  const steps: { command: string; output: string[] }[] = [];
  for (const line of example.code.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), output: [] });
    else if (steps.length > 0) steps[steps.length - 1].output.push(line);
    else throw new Error(`${README}:${example.line}: a transcript must start with a $ line`);
  }
  for (const { command, output } of steps) {
    const r = run(['sh', '-c', `{\n${command}\n} 2>&1`], example.asNobody);
    expect({ command, left: r.left }).toEqual({ command, left: [] });
    if (r.signal) throw new Error(report(example, `\`${command}\` did not end`, r));
    expect({ command, printed: collapse(r.stdout) }).toEqual({ command, printed: collapse(output.join('\n')) });
  }
}

describe(`${README}'s examples`, () => {
  test('every example runs or says why not, with a comment this test knows', () => {
    const tags = [...new Set(blocks.map((b) => b.lang))].filter((lang) => lang !== '' && !RUNNABLE.includes(lang));
    expect({ tagsThatAreNeitherRunNorMarked: tags }).toEqual({ tagsThatAreNeitherRunNorMarked: [] });
    for (const e of examples) {
      if (e.notRun !== null) expect(e.notRun.length).toBeGreaterThan(10);
    }
    expect(examples.filter((e) => e.notRun === null && e.file === null).length).toBeGreaterThan(15);
  });

  test("the API line names what require('pidns') exports", () => {
    expect(apiLine).toBeDefined();
    const names = /\{([\w\s,]+)\}/.exec(apiLine!.code)![1].split(',').map((n) => n.trim());
    const api = require(projectRoot) as Record<string, unknown>;
    expect(names.filter((n) => typeof api[n] !== 'function')).toEqual([]);
  });
});

// Not under scripts/test-sanitize.sh: every program inherits the preloaded ASan runtime there, and
// ps under it hangs reading a fresh /proc (.ci/run leaves this file out of that step, with the
// others that run ps).
describeAsRoot(`${README}'s examples, run`, () => {
  for (const example of examples) {
    if (example.notRun !== null || example.file !== null) continue;
    const name = `${README}:${example.line} (${example.lang}${example.asNobody ? ', as nobody' : ''})`;
    const body = { js: runScript, ts: runScript, sh: runShell, console: runTranscript }[example.lang as 'js' | 'ts' | 'sh' | 'console'];
    test(name, () => body(example), 4 * EXAMPLE_TIMEOUT_MS);
  }
});
