/**
 * The benchmark's processes: the simulator CLI, the proxy CLI, the byte pipe
 * and the load generator, each its own `node` process, optionally pinned to
 * CPUs with `taskset` so the thing under test does not fight the load for a core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LoadOptions, LoadResult, SwitchMark } from './loadgen.js';

const dist = new URL('..', import.meta.url).pathname;
export const SIM_CLI = `${dist}sim/cli.js`;
export const PROXY_CLI = `${dist}src/cli.js`;
export const PIPE = `${dist}bench/pipe.js`;
export const FLOOR = `${dist}bench/floor.js`;
export const LOADGEN = `${dist}bench/loadgen.js`;

/** CPU list for taskset (`"0"`, `"1"`, `"0-1"`), or undefined to let the kernel place it. */
export type Cpus = string | undefined;

const children = new Set<ChildProcess>();

/** Kills every process the benchmark started that is still running. */
export function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

function start(script: string, args: string[], cpus: Cpus, extraNodeArgs: string[] = []): ChildProcess {
  const node = [...extraNodeArgs, script, ...args];
  const child =
    cpus === undefined
      ? spawn(process.execPath, node, { stdio: ['pipe', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', cpus, process.execPath, ...node], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** JSON lines of a child's stdout, one callback per parsed line. */
function onJsonLines(child: ChildProcess, handler: (value: Record<string, unknown>) => void): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof value === 'object' && value !== null) handler(value as Record<string, unknown>);
  });
}

function firstLine<T>(child: ChildProcess, what: string, pick: (value: Record<string, unknown>) => T | undefined, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it started`));
    });
    onJsonLines(child, (value) => {
      const picked = pick(value);
      if (picked !== undefined) {
        clearTimeout(timer);
        resolve(picked);
      }
    });
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

export interface SimProcess {
  name: string;
  metas: string[];
  pid: number;
  command(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startSim(name: string, tables: string, cpus: Cpus): Promise<SimProcess> {
  const child = start(SIM_CLI, ['--name', name, '--metas', '3', '--leader', '0', '--tables', tables], cpus);
  const replies: Array<(value: Record<string, unknown>) => void> = [];
  let hello: ((value: { metas: string[] }) => void) | undefined;
  const started = new Promise<{ metas: string[] }>((resolve) => (hello = resolve));
  onJsonLines(child, (value) => {
    if (hello && Array.isArray(value.metas)) {
      hello(value as { metas: string[] });
      hello = undefined;
    } else {
      replies.shift()?.(value);
    }
  });
  const { metas } = await Promise.race([
    started,
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`simulator ${name} exited with ${code}`)))),
  ]);
  return {
    name,
    metas,
    pid: child.pid!,
    command: (command) =>
      new Promise((resolve) => {
        replies.push(resolve);
        child.stdin!.write(`${JSON.stringify(command)}\n`);
      }),
    stop: async () => {
      child.stdin!.end();
      await stopChild(child);
    },
  };
}

export interface ProxyProcess {
  port: number;
  pid: number;
  /** Epoch ms of each 'routes file loaded' log line so far. */
  routeLoads: number[];
  /** Exit code after SIGTERM. */
  stop(): Promise<number | null>;
}

/**
 * Starts the proxy CLI on `configFile`; resolves once `workers` processes log 'meta-proxy listening'.
 * @param cli another build's `src/cli.js`, to compare two builds in one run
 */
export async function startProxy(configFile: string, cpus: Cpus, workers = 1, nodeArgs: string[] = [], cli = PROXY_CLI): Promise<ProxyProcess> {
  const child = start(cli, [configFile], cpus, nodeArgs);
  const routeLoads: number[] = [];
  onJsonLines(child, (entry) => {
    if (entry.msg === 'routes file loaded' && typeof entry.time === 'string') routeLoads.push(Date.parse(entry.time));
  });
  let listening = 0;
  const port = await firstLine(child, 'meta-proxy', (entry) => {
    const listen = entry.listen as { port?: number } | undefined;
    if (entry.msg !== 'meta-proxy listening' || typeof listen?.port !== 'number') return undefined;
    return ++listening === workers ? listen.port : undefined;
  });
  return { port, pid: child.pid!, routeLoads, stop: () => stopChild(child) };
}

export async function startPipe(target: string, cpus: Cpus): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const child = start(PIPE, [target], cpus);
  const port = await firstLine(child, 'pipe', (value) => (typeof value.port === 'number' ? value.port : undefined));
  return { port, pid: child.pid!, stop: async () => void (await stopChild(child)) };
}

/** The minimal hand-written proxy (bench/floor.ts) over a routes file. */
export async function startFloor(routesFile: string, cpus: Cpus): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const child = start(FLOOR, [routesFile], cpus);
  const port = await firstLine(child, 'floor proxy', (value) => (typeof value.port === 'number' ? value.port : undefined));
  return { port, pid: child.pid!, stop: async () => void (await stopChild(child)) };
}

/** CPU time (user + system) `pid` has used so far, in µs, from /proc/<pid>/stat. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface LoadProcess {
  ready: Promise<void>;
  result: Promise<LoadResult>;
  mark(): Promise<SwitchMark>;
  stop(): void;
}

/** Runs the load generator; `ulimitNoFile` raises its descriptor limit through the shell first. */
export function startLoadgen(options: LoadOptions, cpus: Cpus, ulimitNoFile?: number, onWindow?: (edge: 'start' | 'end') => void): LoadProcess {
  let child: ChildProcess;
  if (ulimitNoFile === undefined) {
    child = start(LOADGEN, [JSON.stringify(options)], cpus);
  } else {
    const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    const command = [...(cpus === undefined ? [] : ['taskset', '-c', cpus]), process.execPath, LOADGEN, JSON.stringify(options)];
    child = spawn('sh', ['-c', `ulimit -n ${ulimitNoFile} && exec ${command.map(quote).join(' ')}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
  }
  const marks: Array<(mark: SwitchMark) => void> = [];
  let readyResolve!: () => void;
  let resultResolve!: (result: LoadResult) => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const result = new Promise<LoadResult>((resolve, reject) => {
    resultResolve = resolve;
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code} without a result`)));
  });
  onJsonLines(child, (value) => {
    if (value.ready) readyResolve();
    else if (value.window === 'start' || value.window === 'end') onWindow?.(value.window);
    else if (value.mark) marks.shift()?.(value.mark as SwitchMark);
    else if (value.result) resultResolve(value.result as LoadResult);
  });
  return {
    ready,
    result,
    mark: () =>
      new Promise((resolve) => {
        marks.push(resolve);
        child.stdin!.write('{"cmd":"mark"}\n');
      }),
    stop: () => void child.stdin!.write('{"cmd":"stop"}\n'),
  };
}

/** Resident set size in bytes of `pid` and every process below it (cluster workers). */
export function rssBytes(pid: number): number {
  let total = 0;
  const visit = (p: number): void => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const match = /VmRSS:\s+(\d+) kB/.exec(status);
      if (match) total += Number(match[1]) * 1024;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const kid of kids.split(/\s+/).filter(Boolean)) visit(Number(kid));
      }
    } catch {
      // The process is gone.
    }
  };
  visit(pid);
  return total;
}

/** The soft and hard limits of open files, as the shell reports them. */
export function fileLimits(): { soft: number; hard: number } {
  const read = (flag: string) => Number(spawnSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).stdout.trim());
  return { soft: read('-Sn'), hard: read('-Hn') };
}
