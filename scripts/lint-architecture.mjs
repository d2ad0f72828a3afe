#!/usr/bin/env node
// Checks the layering rules of docs/STYLE.md that the type checker cannot see:
// - src/streams holds pure composition: no sockets, ZooKeeper, files, HTTP,
//   wall-clock time, raw timers or Promises (time comes from RxJS schedulers);
// - src/operators holds one operator per file, named after its export;
// - nothing but src/main.ts (and the CLI) imports both drivers and streams.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const problems = [];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const code = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

const forbiddenInStreams = [
  [/from ['"]node:(net|fs|http|https|dns|child_process|fs\/promises)['"]/, 'imports an I/O module'],
  [/from ['"]zookeeper['"]/, 'imports the ZooKeeper client'],
  [/\bDate\.now\(/, 'reads the wall clock (use the scheduler)'],
  [/\b(setTimeout|setInterval|setImmediate)\(/, 'uses a raw timer (use an RxJS scheduler)'],
  [/\bnew Promise\b|\basync\s+(function|\()|\bawait\b/, 'uses Promises (streams are observables)'],
  [/from ['"]\.\.\/io\//, 'imports a driver (only src/main.ts wires drivers to streams)'],
];

for (const file of walk(join(root, 'src/streams'))) {
  const text = code(readFileSync(file, 'utf8'));
  for (const [pattern, what] of forbiddenInStreams) {
    if (pattern.test(text)) problems.push(`${file.slice(root.length)}: ${what}`);
  }
}

for (const file of walk(join(root, 'src/operators'))) {
  const text = code(readFileSync(file, 'utf8'));
  const name = basename(file, '.ts');
  if (!new RegExp(`export (function|const) ${name}\\b`).test(text)) {
    problems.push(`${file.slice(root.length)}: an operator file must export a function named ${name}`);
  }
}

for (const file of walk(join(root, 'src/io'))) {
  const text = code(readFileSync(file, 'utf8'));
  if (/from ['"](?:\.\.\/)+streams\/(?!\w+Types\.js)/.test(text)) {
    problems.push(`${file.slice(root.length)}: a driver imports stream logic (pass it in instead)`);
  }
}

if (problems.length > 0) {
  console.error(`architecture lint: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('architecture lint: ok');
