/**
 * A real, throw-away ZooKeeper server for tests: its own port, its own data
 * directory, quick ticks so session-expiry cases take a second or two, and a
 * small client of its own to write and delete nodes behind the back of the
 * code under test.
 *
 * Usage:
 *   let zk: ZkServer;
 *   beforeAll(async () => { zk = await startZooKeeper(); });
 *   afterAll(() => zk?.dispose());
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ZooKeeper from 'zookeeper';

export interface ZkServerOptions {
  /** ZooKeeper's time unit; session timeouts are negotiated in ticks. Default 500 ms. */
  tickTimeMs?: number;
  /** Default 2 ticks (1000 ms): the shortest session a client may ask for. */
  minSessionTimeoutMs?: number;
  /** Default 20 ticks. */
  maxSessionTimeoutMs?: number;
  /** How long start/restart may take before failing. Default 20 s. */
  startTimeoutMs?: number;
  /** Default `/usr/share/java/zookeeper.jar` (Debian package). */
  jar?: string;
  /** Put first on the class path (log configuration). Default `/etc/zookeeper/conf`. */
  confDir?: string;
  /** Pipe the server's output to this process's stderr. */
  verbose?: boolean;
}

/** One ACL entry: a digest credential `user:password`, or anyone when absent. */
export interface AclEntry {
  credential?: string;
  perms: number;
}

export interface ZkNode {
  data: Buffer;
  version: number;
}

export interface ZkServer {
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:<port>`, what a client's `address` list holds. */
  readonly connectString: string;
  readonly dataDir: string;
  /** True between a successful start and stop(). */
  readonly running: boolean;
  /** SIGKILL the server and wait for it to exit. The data directory stays. */
  stop(): Promise<void>;
  /** Start again on the same port with the same data (stopping first if needed). */
  restart(): Promise<void>;
  /** SIGSTOP: the port accepts nothing, sessions time out; resume() lets it expire them. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** True when the server answers the `ruok` four-letter word. */
  ruok(): Promise<boolean>;
  /** Write a node, creating it and its parents if needed. Resolves the new data version. */
  set(path: string, data: string | Buffer | object): Promise<number>;
  /** Read a node, or null when it does not exist. */
  get(path: string): Promise<ZkNode | null>;
  /** Child names, or [] when the node does not exist. */
  children(path: string): Promise<string[]>;
  /** Delete a node and everything under it; a missing node is fine. */
  remove(path: string): Promise<void>;
  /** Let only the digest identity `user:password` do anything with the node (an existing node). */
  setDigestAcl(path: string, credential: string): Promise<void>;
  /** Sets the node's ACL: digest credentials (`user:password`) or anyone (`world`), each with its perms (READ 1 ... ALL 31). */
  setAcl(path: string, entries: AclEntry[]): Promise<void>;
  /**
   * Close somebody else's session, given its id and password (hex, as the
   * native client reports them): that client then sees its session expire.
   */
  expireSession(sessionId: string, password: string): Promise<void>;
  /** Stop the server, close the helper client and delete the data directory. */
  dispose(): Promise<void>;
}

const JAR = '/usr/share/java/zookeeper.jar';
const CONF_DIR = '/etc/zookeeper/conf';

// A test run that dies before its afterAll must not leave JVMs behind: every
// server started by this process is killed synchronously when it exits. This
// set is the one piece of module state, and it exists only for that guard.
const live = new Set<ChildProcess>();
let exitGuardInstalled = false;
function guardExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitGuardInstalled) return;
  exitGuardInstalled = true;
  process.once('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGCONT');
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** A port nobody listens on right now (listen on 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port below the kernel's ephemeral range (32768 and up on Linux), for
 * a server that is stopped and restarted on the same port: while it is down,
 * no port the kernel hands out (another test's listen(0), any outgoing
 * connection) can take its place.
 */
export async function restartablePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  return freePort(host);
}

/** Send a four-letter word; resolve the reply ('' when the server does not answer). */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect({ host, port });
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.once('connect', () => socket.write(word));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
    });
    socket.once('end', done);
    socket.once('error', done);
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Start a ZooKeeper server on a free port of 127.0.0.1 and wait until it serves requests. */
export async function startZooKeeper(options: ZkServerOptions = {}): Promise<ZkServer> {
  const jar = options.jar ?? JAR;
  const confDir = options.confDir ?? CONF_DIR;
  if (!existsSync(jar)) {
    throw new Error(`ZooKeeper is not installed: ${jar} is missing. Run \`apt-get install -y zookeeper\` (tests need a real server).`);
  }
  const tickTime = options.tickTimeMs ?? 500;
  const minSession = options.minSessionTimeoutMs ?? tickTime * 2;
  const maxSession = options.maxSessionTimeoutMs ?? tickTime * 20;
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const host = '127.0.0.1';
  // Tests stop and restart it on the same port while other tests run.
  const port = await restartablePort(host);
  const dir = mkdtempSync(join(tmpdir(), 'meta-proxy-zk-'));
  const dataDir = join(dir, 'data');
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(
    cfg,
    [
      `tickTime=${tickTime}`,
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      `clientPortAddress=${host}`,
      `minSessionTimeout=${minSession}`,
      `maxSessionTimeout=${maxSession}`,
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr,stat,mntr',
      // The process is killed, never the machine: the page cache keeps what fsync would.
      'forceSync=no',
      'maxClientCnxns=0',
      // The default 64 MB pre-allocation of every new transaction log costs seconds on a slow disk.
      'preAllocSize=1024',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let output = '';
  let helper: HelperClient | undefined;

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(
      'java',
      [
        '-Xshare:auto',
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        '-Xmx128m',
        '-Dzookeeper.4lw.commands.whitelist=ruok,srvr,stat,mntr',
        '-cp',
        `${confDir}:${jar}`,
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        cfg,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    guardExit(proc);
    const collect = (chunk: Buffer): void => {
      if (options.verbose) process.stderr.write(chunk);
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (exited) {
        throw new Error(`ZooKeeper on port ${port} exited during start:\n${output}`);
      }
      // `ruok` says imok before the database is loaded; a client connecting then is
      // turned away and backs off for seconds. `srvr` reports a Mode only once serving.
      if ((await fourLetterWord(host, port, 'srvr', 500)).includes('Mode:')) return;
      await delay(50);
    }
    await kill();
    throw new Error(`ZooKeeper on port ${port} was not serving within ${startTimeoutMs} ms:\n${output}`);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  };

  const client = (): HelperClient => {
    helper ??= new HelperClient(`${host}:${port}`, startTimeoutMs);
    return helper;
  };
  const closeHelper = (): void => {
    helper?.close();
    helper = undefined;
  };

  /**
   * Runs `use` with the helper; again with a new one if ZooKeeper closed the
   * helper's session (a server just restarted can refuse a new session for a
   * while, as a long soak run meets), for up to about 10 s, then gives up.
   */
  const withClient = async <T>(use: (c: HelperClient) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await use(client());
      } catch (error) {
        if (!(error instanceof SessionClosed) || attempt >= 20) throw error;
        closeHelper();
        await delay(500);
      }
    }
  };

  await launch();

  const server: ZkServer = {
    host,
    port,
    connectString: `${host}:${port}`,
    dataDir,
    get running() {
      return child !== undefined;
    },
    async stop() {
      // The helper would otherwise keep redialling a dead port.
      closeHelper();
      await kill();
    },
    async restart() {
      closeHelper();
      await kill();
      await launch();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    ruok: async () => (await fourLetterWord(host, port, 'ruok', 500)) === 'imok',
    set: (path, data) => withClient((c) => c.set(path, toBuffer(data))),
    get: (path) => withClient((c) => c.get(path)),
    children: (path) => withClient((c) => c.children(path)),
    remove: (path) => withClient((c) => c.removeTree(path)),
    setDigestAcl: (path, credential) => withClient((c) => c.setDigestAcl(path, credential)),
    setAcl: (path, entries) => withClient((c) => c.setAcl(path, entries)),
    async expireSession(sessionId, password) {
      // Closing a session from any client that holds its id and password ends it,
      // unless its owner reconnects in between and takes it back (the close then
      // fails as "session moved"). So: close, and repeat until a client presenting
      // the session is told it has expired.
      for (let attempt = 0; attempt < 50; attempt++) {
        const intruder = new HelperClient(`${host}:${port}`, startTimeoutMs, { client_id: sessionId, client_password: password });
        const outcome = await intruder.outcome();
        intruder.close();
        if (outcome === 'expired') return;
        await delay(20);
      }
      throw new Error(`ZooKeeper session ${sessionId} would not expire`);
    },
    async dispose() {
      closeHelper();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

function toBuffer(data: string | Buffer | object): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.from(JSON.stringify(data), 'utf8');
}

/** The part of the native client this helper uses (its bundled typings are loose). */
interface RawZk {
  init(config: object): unknown;
  close(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  a_create(path: string, data: Buffer | string, flags: number, cb: (rc: number, err: string, path: string) => void): number;
  a_set(path: string, data: Buffer, version: number, cb: (rc: number, err: string, stat: { version: number }) => void): number;
  a_get(path: string, watch: boolean, cb: (rc: number, err: string, stat: { version: number }, data: Buffer | null) => void): number;
  a_get_children(path: string, watch: boolean, cb: (rc: number, err: string, children: string[]) => void): number;
  a_delete_(path: string, version: number, cb: (rc: number, err: string) => void): number;
  a_set_acl(path: string, version: number, acl: Array<{ perms: number; scheme: string; auth: string }>, cb: (rc: number, err: string) => void): number;
}

const ZOK = 0;
const ZNONODE = -101;
const ZNODEEXISTS = -110;

class SessionClosed extends Error {
  constructor(readonly code: number) {
    super(`ZooKeeper closed the test client's session (code ${code})`);
  }
}

class ZkCallError extends Error {
  constructor(
    readonly rc: number,
    what: string,
  ) {
    super(`ZooKeeper ${what} failed with code ${rc}`);
  }
}

/** One connection of the test harness, opened lazily and reused until close(). */
class HelperClient {
  private readonly zk: RawZk;
  private readonly connected: Promise<void>;

  constructor(connectString: string, timeoutMs: number, session: Record<string, string> = {}) {
    const Ctor = ZooKeeper as unknown as new (config: object) => RawZk;
    this.zk = new Ctor({ connect: connectString, timeout: 10_000, debug_level: 0, host_order_deterministic: false, ...session });
    this.connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`test ZooKeeper client could not connect to ${connectString}`)), timeoutMs);
      this.zk.on('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.zk.on('close', (_self, code) => {
        clearTimeout(timer);
        reject(new SessionClosed(Number(code)));
      });
    });
    // Callers that never await must not produce an unhandled rejection.
    this.connected.catch(() => undefined);
    this.zk.init({});
  }

  /** Whether the session this client presented is alive ('connected') or gone ('expired'). */
  outcome(): Promise<'connected' | 'expired'> {
    return this.connected.then(
      () => 'connected' as const,
      (err: unknown) => {
        if (err instanceof SessionClosed) return 'expired' as const;
        throw err;
      },
    );
  }

  close(): void {
    this.zk.close();
  }

  private call<T>(what: string, start: (done: (rc: number, value: T) => void) => number, accept: number[] = []): Promise<{ rc: number; value: T }> {
    return this.connected.then(
      () =>
        new Promise((resolve, reject) => {
          const rc = start((code, value) => {
            if (code === ZOK || accept.includes(code)) resolve({ rc: code, value });
            else reject(new ZkCallError(code, what));
          });
          if (rc !== ZOK) reject(new ZkCallError(rc, what));
        }),
    );
  }

  async set(path: string, data: Buffer): Promise<number> {
    await this.ensureParents(path);
    const updated = await this.call<{ version: number }>(`set ${path}`, (done) => this.zk.a_set(path, data, -1, (rc, _e, stat) => done(rc, stat)), [ZNONODE]);
    if (updated.rc === ZOK) return updated.value.version;
    const created = await this.call(`create ${path}`, (done) => this.zk.a_create(path, data, 0, (rc) => done(rc, undefined)), [ZNODEEXISTS]);
    if (created.rc === ZOK) return 0;
    return this.set(path, data);
  }

  async get(path: string): Promise<ZkNode | null> {
    const read = await this.call<ZkNode | null>(
      `get ${path}`,
      (done) => this.zk.a_get(path, false, (rc, _e, stat, data) => done(rc, rc === ZOK ? { data: data ?? Buffer.alloc(0), version: stat.version } : null)),
      [ZNONODE],
    );
    return read.value;
  }

  async children(path: string): Promise<string[]> {
    const read = await this.call<string[]>(`list ${path}`, (done) => this.zk.a_get_children(path, false, (rc, _e, names) => done(rc, names ?? [])), [ZNONODE]);
    return read.rc === ZOK ? read.value : [];
  }

  async removeTree(path: string): Promise<void> {
    for (const name of await this.children(path)) {
      await this.removeTree(`${path === '/' ? '' : path}/${name}`);
    }
    if (path === '/' || path === '/zookeeper') return;
    await this.call(`delete ${path}`, (done) => this.zk.a_delete_(path, -1, (rc) => done(rc, undefined)), [ZNONODE]);
  }

  async setAcl(path: string, entries: AclEntry[]): Promise<void> {
    const acl = entries.map((entry) => {
      if (entry.credential === undefined) return { perms: entry.perms, scheme: 'world', auth: 'anyone' };
      const user = entry.credential.slice(0, entry.credential.indexOf(':'));
      return { perms: entry.perms, scheme: 'digest', auth: `${user}:${createHash('sha1').update(entry.credential).digest('base64')}` };
    });
    await this.call(`set ACL of ${path}`, (done) => this.zk.a_set_acl(path, -1, acl, (rc) => done(rc, undefined)));
  }

  async setDigestAcl(path: string, credential: string): Promise<void> {
    const user = credential.slice(0, credential.indexOf(':'));
    // ZooKeeper's digest id: user:base64(sha1(user:password)).
    const id = `${user}:${createHash('sha1').update(credential).digest('base64')}`;
    await this.call(`set ACL of ${path}`, (done) => this.zk.a_set_acl(path, -1, [{ perms: 31, scheme: 'digest', auth: id }], (rc) => done(rc, undefined)));
  }

  private async ensureParents(path: string): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const parent = `/${parts.slice(0, i).join('/')}`;
      await this.call(`create ${parent}`, (done) => this.zk.a_create(parent, '', 0, (rc) => done(rc, undefined)), [ZNODEEXISTS]);
    }
  }
}
