/**
 * The import structure of src/, checked on every run so that a change which breaks it fails
 * the suite: no import cycle between files, and folders import only the layers below them.
 * Type-only imports count: a cycle of types still ties the files together for a reader.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../helpers/paths.js';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** file (relative to src/) -> the src/ files it imports, static, dynamic and type-only. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(SRC, resolve(dirname(file), name.replace(/\.js$/, '.ts'))));
    graph.set(relative(SRC, file), [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/**
 * The layers of src/, lowest first. A folder may import its own files and folders of lower
 * layers only: the faces (bridge, dovecot, authapi, oauth) never import each other, only the
 * composition root (server/) knows them all, and only the command line and the library
 * entry point know the composition root.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['identity', 'net', 'log'],
  ['extauth', 'storage'],
  ['config', 'checkscript'],
  ['accounts'],
  ['http', 'metrics'],
  ['bridge', 'dovecot', 'authapi', 'oauth'],
  ['server'],
  ['cli', 'index.ts'],
];

function layerOf(file: string): number {
  const top = file.split('/')[0]!;
  const i = LAYERS.findIndex((names) => names.includes(top));
  assert.notEqual(i, -1, `src/${top} is in no layer of test/architecture/imports.test.ts: add it to LAYERS`);
  return i;
}

test('the graph is read: known imports are found (positive control)', () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `only ${graph.size} files read under src/`);
  assert.ok(graph.get('cli/serve.ts')?.includes('server/service.ts'), 'cli/serve.ts imports server/service.ts');
  // A type-only import is an edge too.
  assert.ok(graph.get('log/pino.ts')?.includes('log/logger.ts'));
  // A cycle is found where there is one.
  assert.deepEqual(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']], ['c.ts', ['a.ts']]])), [['a.ts', 'b.ts']]);
});

test('no import cycle between files of src/', () => {
  const found = cycles(importGraph());
  assert.deepEqual(found, [], `import cycles:\n${found.map((c) => `  ${c.join(' <-> ')}`).join('\n')}`);
});

test('every folder of src/ imports only its own files and the layers below it', () => {
  const wrong: string[] = [];
  for (const [file, targets] of importGraph()) {
    const from = layerOf(file);
    const top = file.split('/')[0];
    for (const target of targets) {
      if (target.split('/')[0] === top) continue;
      if (layerOf(target) >= from) wrong.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, [], `imports that run sideways or back up:\n  ${wrong.join('\n  ')}`);
});
