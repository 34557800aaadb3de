/**
 * The source tree's layering, from the import specifiers of every .ts file under src/ (imports,
 * type-only imports, re-exports and dynamic import('...') with a literal specifier), read with
 * regular expressions: no models, no compiler.
 * - no import cycles among src files, type-only imports included (a cycle through types alone
 *   still ties two modules together for readers and for the bundler's declaration output);
 * - src/core imports only src/core: no package, no node: built-in, no onnxruntime, so that it
 *   runs anywhere (Node, browsers, workers) and stays testable without models;
 * - only src/backends imports onnxruntime-node, -web or -common (type-only imports included);
 * - src/core and src/pipeline import nothing from src/cli or src/batch (the command line and the
 *   batch runner sit on top of the library, not under it).
 * The last block runs the same checks on small in-memory graphs, so each rule is seen to fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/data.js';

/** One import specifier of a file, as written. */
interface ImportSpecifier {
  readonly specifier: string;
  /** `import type` / `export type`, or braces holding `type` names only: erased from the output. */
  readonly typeOnly: boolean;
  /** import('...'), including `typeof import('...')` in types. */
  readonly dynamic: boolean;
}

/** A file's import with the src file it resolves to (relative specifiers only). */
interface ResolvedImport extends ImportSpecifier {
  readonly from: string;
  readonly target?: string;
}

/** Repository-relative posix paths of the .ts files under dir (declaration files included). */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })
    .flatMap((entry) => {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(path);
      return entry.name.endsWith('.ts') ? [path] : [];
    })
    .sort();
}

// Comments that start a line (doc comments, // notes): a specifier quoted in one is no import.
// Only those, since a `/*` or `//` inside a string or a regular expression would swallow code.
const LINE_COMMENTS = /^[ \t]*(?:\/\*[\s\S]*?\*\/|\/\/.*$)/gm;
// import x from '...', import { a, type B } from '...', import type ..., export * from '...',
// export { a } from '...', over several lines; [^'";] keeps a match inside one statement.
const FROM = /^[ \t]*(?:import|export)\b(\s+type\b)?([^'";]*?)\bfrom\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT = /^[ \t]*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
const TYPE_NAMES_ONLY = /^\{\s*(?:type\s+[\w$]+(?:\s+as\s+[\w$]+)?\s*,?\s*)+\}$/;

function importSpecifiers(text: string): ImportSpecifier[] {
  const code = text.replace(LINE_COMMENTS, ' ');
  const found: ImportSpecifier[] = [];
  for (const [, typeKeyword, clause, specifier] of code.matchAll(FROM)) {
    found.push({ specifier, typeOnly: Boolean(typeKeyword) || TYPE_NAMES_ONLY.test(clause.trim()), dynamic: false });
  }
  for (const [, specifier] of code.matchAll(SIDE_EFFECT)) found.push({ specifier, typeOnly: false, dynamic: false });
  for (const [, specifier] of code.matchAll(DYNAMIC)) found.push({ specifier, typeOnly: false, dynamic: true });
  return found;
}

/** The src file a relative specifier names ('./x.js' is ./x.ts), or undefined. */
function resolveLocal(from: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  const path = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = path.endsWith('.js') ? [`${path.slice(0, -3)}.ts`] : [path, `${path}.ts`, `${path}/index.ts`];
  return candidates.find((c) => files.has(c));
}

/** Every import of the given files (path to text), with local targets resolved. */
function resolveImports(sources: ReadonlyMap<string, string>): ResolvedImport[] {
  const files = new Set(sources.keys());
  return [...sources].flatMap(([from, text]) =>
    importSpecifiers(text).map((s) => ({ ...s, from, target: s.specifier.startsWith('.') ? resolveLocal(from, s.specifier, files) : undefined })),
  );
}

/** Each local file to the files it imports. */
function importGraph(imports: readonly ResolvedImport[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const i of imports) {
    if (!graph.has(i.from)) graph.set(i.from, []);
    if (i.target && !graph.get(i.from)!.includes(i.target)) graph.get(i.from)!.push(i.target);
  }
  return graph;
}

/**
 * Import cycles, each as its file chain from a file back to itself: one per edge that closes a
 * cycle in a depth-first walk, so an empty list means the graph has none.
 */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) cycles.push([...path.slice(at), next]);
      else if (!done.has(next)) visit(next);
    }
    path.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) if (!done.has(file)) visit(file);
  return cycles;
}

const ONNXRUNTIME = /^onnxruntime-(?:node|web|common)(?:\/|$)/;
const inside = (file: string | undefined, ...dirs: string[]): boolean => file !== undefined && dirs.some((d) => file.startsWith(`${d}/`));
const describeImport = (i: ResolvedImport): string =>
  `${i.from} imports ${i.typeOnly ? 'type-only ' : ''}${i.dynamic ? 'dynamically ' : ''}'${i.specifier}'`;

/** The layering rules: which imports break each, and why that is a break. */
const RULES: Record<string, { readonly breaks: (i: ResolvedImport) => boolean; readonly why: string }> = {
  'src/core imports only src/core': {
    breaks: (i) => inside(i.from, 'src/core') && !inside(i.target, 'src/core'),
    why: 'src/core imports nothing outside src/core (no package, no node: built-in)',
  },
  'only src/backends imports onnxruntime': {
    breaks: (i) => ONNXRUNTIME.test(i.specifier) && !inside(i.from, 'src/backends'),
    why: 'only src/backends imports onnxruntime-node, -web or -common',
  },
  'src/core and src/pipeline import nothing from src/cli or src/batch': {
    breaks: (i) => inside(i.from, 'src/core', 'src/pipeline') && inside(i.target, 'src/cli', 'src/batch'),
    why: 'src/cli and src/batch sit on top of src/core and src/pipeline',
  },
};

function violations(rule: string, imports: readonly ResolvedImport[]): ResolvedImport[] {
  return imports.filter((i) => RULES[rule].breaks(i));
}

const srcFiles = sourceFiles('src');
const srcImports = resolveImports(new Map(srcFiles.map((f) => [f, readFileSync(join(REPO_ROOT, f), 'utf8')])));

describe('source layering', () => {
  it('finds the files and their imports', () => {
    expect(srcFiles).toContain('src/index.ts');
    expect(srcFiles.filter((f) => f.startsWith('src/core/')).length).toBeGreaterThan(10);
    // The graph the other checks walk: every file's imports, resolved where relative.
    expect(srcImports.length).toBeGreaterThan(srcFiles.length);
    expect(srcImports.some((i) => i.dynamic)).toBe(true);
    expect(srcImports.some((i) => i.typeOnly)).toBe(true);
  });

  it('resolves every relative import to a src file (else the cycle check would not see the edge)', () => {
    const unresolved = srcImports.filter((i) => i.specifier.startsWith('.') && !i.target).map(describeImport);
    expect(unresolved, unresolved.join('\n')).toEqual([]);
  });

  it('has no import cycles among src files, type-only imports included', () => {
    const cycles = findCycles(importGraph(srcImports)).map((c) => c.join(' -> '));
    expect(cycles, `import cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  for (const rule of Object.keys(RULES)) {
    it(rule, () => {
      const found = violations(rule, srcImports).map((i) => `${describeImport(i)}: ${RULES[rule].why}`);
      expect(found, found.join('\n')).toEqual([]);
    });
  }
});

describe('the checks can fail', () => {
  it('reads imports of every form and skips specifiers in comments', () => {
    const text = [
      "import { a,",
      "  type B } from './a.js';",
      "import type { C } from '../c.js';",
      "import { type D, type E as F } from './d.js';",
      "import './side-effect.js';",
      "export * from './e.js';",
      "export type { G } from './g.js';",
      "type M = typeof import('./m.js');",
      "const n = await import('node:fs');",
      "/** Not this: import('./doc.js'), nor import x from './doc2.js'. */",
      "// import y from './commented.js';",
      "export const z = 'from';",
    ].join('\n');
    expect(importSpecifiers(text)).toEqual([
      { specifier: './a.js', typeOnly: false, dynamic: false },
      { specifier: '../c.js', typeOnly: true, dynamic: false },
      { specifier: './d.js', typeOnly: true, dynamic: false },
      { specifier: './e.js', typeOnly: false, dynamic: false },
      { specifier: './g.js', typeOnly: true, dynamic: false },
      { specifier: './side-effect.js', typeOnly: false, dynamic: false },
      { specifier: './m.js', typeOnly: false, dynamic: true },
      { specifier: 'node:fs', typeOnly: false, dynamic: true },
    ]);
  });

  it('finds a cycle, type-only and through several files, with its chain', () => {
    const imports = resolveImports(
      new Map([
        ['src/pipeline/a.ts', "import type { B } from './b.js';"],
        ['src/pipeline/b.ts', "import { c } from './sub/c.js';"],
        ['src/pipeline/sub/c.ts', "export type { A } from '../a.js';"],
        ['src/pipeline/d.ts', "import { a } from './a.js';"],
      ]),
    );
    expect(findCycles(importGraph(imports))).toEqual([['src/pipeline/a.ts', 'src/pipeline/b.ts', 'src/pipeline/sub/c.ts', 'src/pipeline/a.ts']]);
    expect(findCycles(new Map([['x', ['y']], ['y', ['z']], ['z', []], ['w', ['x', 'z']]]))).toEqual([]);
    expect(findCycles(new Map([['x', ['x']]]))).toEqual([['x', 'x']]);
  });

  it('flags each layering break', () => {
    const imports = resolveImports(
      new Map([
        ['src/core/mask.ts', "import { x } from './types.js';"],
        ['src/core/bad.ts', "import { Salip } from '../pipeline/salip.js';\nimport { readFileSync } from 'node:fs';\nimport { decode } from 'fast-png';\nimport type { Tensor } from 'onnxruntime-common';"],
        ['src/core/types.ts', ''],
        ['src/pipeline/salip.ts', "const ort = await import('onnxruntime-web');\nimport type { BatchSummary } from '../batch/summary.js';\nimport { main } from '../cli/main.js';"],
        ['src/batch/summary.ts', ''],
        ['src/cli/main.ts', "import { Salip } from '../pipeline/salip.js';"],
        ['src/backends/node.ts', "import * as ort from 'onnxruntime-node';"],
      ]),
    );
    expect(violations('src/core imports only src/core', imports).map(describeImport)).toEqual([
      "src/core/bad.ts imports '../pipeline/salip.js'",
      "src/core/bad.ts imports 'node:fs'",
      "src/core/bad.ts imports 'fast-png'",
      "src/core/bad.ts imports type-only 'onnxruntime-common'",
    ]);
    expect(violations('only src/backends imports onnxruntime', imports).map(describeImport)).toEqual([
      "src/core/bad.ts imports type-only 'onnxruntime-common'",
      "src/pipeline/salip.ts imports dynamically 'onnxruntime-web'",
    ]);
    expect(violations('src/core and src/pipeline import nothing from src/cli or src/batch', imports).map(describeImport)).toEqual([
      "src/pipeline/salip.ts imports type-only '../batch/summary.js'",
      "src/pipeline/salip.ts imports '../cli/main.js'",
    ]);
  });
});
