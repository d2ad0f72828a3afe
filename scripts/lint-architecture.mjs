#!/usr/bin/env node
// Checks the layering rules of docs/STYLE.md that the type checker cannot see:
// - layers read one way: src/model (values and value-level state machines)
//   imports only src/model, src/protocol, src/config, the error catalogue and
//   rxjs types; src/operators imports only those and rxjs, never src/streams or
//   src/io; src/streams never imports src/io, and src/io never src/streams;
// - src/streams and src/model are pure: no sockets, ZooKeeper, files, HTTP,
//   wall-clock time, raw timers or Promises (time comes from RxJS schedulers);
// - src/operators holds one operator per file, named after its export;
// - nothing but src/main.ts (and the CLI) imports both drivers and streams.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, basename, dirname, resolve, relative } from 'node:path';

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

for (const file of [...walk(join(root, 'src/streams')), ...walk(join(root, 'src/model'))]) {
  const text = code(readFileSync(file, 'utf8'));
  for (const [pattern, what] of forbiddenInStreams) {
    if (pattern.test(text)) problems.push(`${file.slice(root.length)}: ${what}`);
  }
}

/** Every module a file imports: `{ spec, typeOnly }`, `spec` resolved to a path under src/ when relative. */
function importsOf(file, text) {
  const out = [];
  const add = (spec, typeOnly) => {
    const target = spec.startsWith('.') ? relative(join(root, 'src'), resolve(dirname(file), spec)).replace(/\.js$/, '') : spec;
    out.push({ spec: target, relativeSpec: spec.startsWith('.'), typeOnly });
  };
  for (const m of text.matchAll(/\b(import|export)\s+(type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?['"]([^'"]+)['"]/g)) add(m[3], m[2] !== undefined);
  for (const m of text.matchAll(/(\btypeof\s+)?\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[2], m[1] !== undefined);
  return out;
}

/** The bottom layer: what src/model and src/operators may build on (src/errors.ts is the catalogue protocol and config use too). */
const bottom = (spec) => /^(model|protocol|config)\//.test(spec) || spec === 'errors';

for (const file of walk(join(root, 'src/model'))) {
  for (const { spec, relativeSpec, typeOnly } of importsOf(file, code(readFileSync(file, 'utf8')))) {
    if (relativeSpec && !bottom(spec)) problems.push(`${file.slice(root.length)}: the model imports src/${spec} (it may use only src/model, src/protocol and src/config)`);
    else if (!relativeSpec && !(spec === 'rxjs' && typeOnly)) problems.push(`${file.slice(root.length)}: the model imports ${spec} (only rxjs types: it owns no stream)`);
  }
}

for (const file of walk(join(root, 'src/operators'))) {
  for (const { spec, relativeSpec } of importsOf(file, code(readFileSync(file, 'utf8')))) {
    if (relativeSpec && /^streams\//.test(spec)) problems.push(`${file.slice(root.length)}: an operator imports src/${spec} (operators sit below streams; move what both need to src/model)`);
    else if (relativeSpec && /^io\//.test(spec)) problems.push(`${file.slice(root.length)}: an operator imports a driver, src/${spec}`);
    else if (relativeSpec && !bottom(spec)) problems.push(`${file.slice(root.length)}: an operator imports src/${spec} (it may use only src/model, src/protocol and src/config)`);
    else if (!relativeSpec && spec !== 'rxjs') problems.push(`${file.slice(root.length)}: an operator imports ${spec} (only rxjs)`);
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
  if (/from ['"](?:\.\.\/)+streams\//.test(text)) {
    problems.push(`${file.slice(root.length)}: a driver imports stream logic (pass it in instead; shared shapes live in src/model)`);
  }
}

// Subclassing Subscriber goes through a constructor RxJS deprecates (internal in v8): operators use
// `new Observable(subscriber => …)` with a plain observer and keep fast state in a plain class.
for (const file of walk(join(root, 'src'))) {
  const text = code(readFileSync(file, 'utf8'));
  if (/\bextends\s+Subscriber\b|\bnew\s+Subscriber\b/.test(text)) {
    problems.push(`${file.slice(root.length)}: subclasses or constructs Subscriber (use new Observable with a plain observer)`);
  }
}

if (problems.length > 0) {
  console.error(`architecture lint: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('architecture lint: ok');
