// The modules of lib/ form no cycle: an import cycle makes the order of evaluation decide which
// exports are still undefined when read. Only imports that remain in the compiled JavaScript
// count (`import type` and imports of types alone are erased by TypeScript).
import * as fs from 'fs';
import * as path from 'path';

const LIB = path.join(__dirname, '../lib');

/** The lib/ modules a source file loads at run time. */
function runtimeImports(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/^import\s+(type\s+)?([\s\S]*?)\s+from\s+'(\.\/[^']+)';/gm)) {
    const [, typeOnly, clause, target] = match;
    if (typeOnly) continue;
    const names = /\{([\s\S]*)\}/.exec(clause);
    // `import { type A, type B } from` is erased too; a default or namespace import is not.
    const hasValue = !names || clause.replace(/\{[\s\S]*\}/, '').replace(/[\s,]/g, '') !== '' || names[1].split(',').some((n) => n.trim() !== '' && !n.trim().startsWith('type '));
    if (hasValue) found.push(path.basename(target));
  }
  for (const match of source.matchAll(/require\('(\.\/[^']+)'\)/g)) found.push(path.basename(match[1]));
  return found;
}

function graph(): Map<string, string[]> {
  const modules = new Map<string, string[]>();
  for (const file of fs.readdirSync(LIB).filter((f) => f.endsWith('.ts'))) {
    modules.set(file.replace(/\.ts$/, ''), runtimeImports(fs.readFileSync(path.join(LIB, file), 'utf8')));
  }
  return modules;
}

/** Every cycle, each as the path that closes it. */
function cycles(modules: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, 'open');
    stack.push(name);
    for (const next of modules.get(name) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of modules.keys()) if (!state.has(name)) visit(name);
  return found;
}

describe('lib/ imports', () => {
  test('the reader finds runtime imports and ignores type-only ones', () => {
    const found = runtimeImports([
      "import { a, type B } from './one';",
      "import type { C } from './two';",
      "import { type D } from './three';",
      "import * as four from './four';",
      "import {\n  e,\n  f,\n} from './five';",
    ].join('\n'));
    expect(found).toEqual(['one', 'four', 'five']);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
  });

  test('no module of lib/ takes part in an import cycle', () => {
    const modules = graph();
    expect(modules.size).toBeGreaterThan(20);
    expect(modules.get('spawn-init')).toContain('init-session');
    expect(cycles(modules).map((c) => c.join(' -> '))).toEqual([]);
  });
});
