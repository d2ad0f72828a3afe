import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadConfig, parseConfig, redactConfig } from '../../src/config/load.js';
import { summarizeConfig } from '../../src/config/summary.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(root, 'test/fixtures/config');
const scratch = mkdtempSync(join(tmpdir(), 'meta-proxy-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The ConfigError message of parsing `text`, as if it were /etc/mp/proxy.yaml. */
function problems(text: string): string[] {
  try {
    parseConfig(text, '/etc/mp/proxy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error('expected the configuration to be rejected');
}

const zk = 'zookeeper: { address: [127.0.0.1:2181] }\n';

describe('loadConfig', () => {
  it('reads the shipped meta-proxy.yaml with its documented values and defaults', () => {
    const config = loadConfig(join(root, 'meta-proxy.yaml'));
    expect(config).toEqual({
      file: join(root, 'meta-proxy.yaml'),
      zookeeper: {
        address: ['127.0.0.1:2181'],
        root: '/pegasus-cluster',
        timeoutMs: 1000,
        tableWatcherCacheCapacity: 1024,
        instancesPath: '/meta-proxy/instances',
      },
      registry: {},
      metric: {
        type: 'prometheus',
        tags: { region: 'local_tst', service: 'meta_proxy' },
        falcon: { agentUrl: 'http://127.0.0.1:1988/v1/push', stepSeconds: 60, endpoint: hostname() },
        custom: [],
      },
      server: {
        listen: { host: '0.0.0.0', port: 34601 },
        maxFrameBytes: 1048576,
        maxConnections: 10000,
        maxInFlightPerConnection: 256,
        partialFrameTimeoutMs: 120000,
        drainTimeoutMs: 10000,
        workers: 1,
      },
      admin: { listen: { host: '0.0.0.0', port: 9091 } },
      upstream: {
        connectTimeoutMs: 1000,
        defaultTimeoutMs: 5000,
        maxTimeoutMs: 60000,
        backupRequestDelayMs: 1000,
        retryDelayMs: 200,
        maxPendingCalls: 100000,
        silentReconnectAfter: 3,
        idleCloseMs: 300000,
        dropHostPortFields: false,
        clusters: {},
      },
      log: { level: 'info', maxSizeBytes: 500 * 1024 * 1024, maxFiles: 10, maxAgeDays: 7 },
    });
  });

  it('fills every default from the two original sections alone', () => {
    const minimal = parseConfig('zookeeper:\n  address: [127.0.0.1:2181]\n  root: /pegasus-cluster\n', '/x/c.yaml');
    const shipped = loadConfig(join(root, 'meta-proxy.yaml'));
    expect({ ...minimal, file: shipped.file, metric: shipped.metric }).toEqual(shipped);
    expect(minimal.metric).toEqual({ ...shipped.metric, tags: {} });
  });

  it('maps every key of a full file, resolving paths against the file folder', () => {
    const config = loadConfig(join(fixtures, 'full.yaml'));
    expect(config.zookeeper).toEqual({
      address: ['10.0.0.1:2181', 'zk-2.example.com:2182', '[::1]:2183'],
      root: '/pegasus/routes',
      timeoutMs: 3000,
      tableWatcherCacheCapacity: 64,
      instancesPath: '/meta-proxy/instances',
      auth: { scheme: 'digest', credential: 'proxy:s3cret' },
    });
    expect(config.registry.file).toBe(join(fixtures, 'routes.yaml'));
    expect(config.metric).toEqual({
      type: 'falcon',
      tags: { region: 'hz', service: 'meta_proxy' },
      falcon: { agentUrl: 'http://falcon:1988/v1/push', stepSeconds: 30, endpoint: 'proxy-1' },
      custom: [join(fixtures, 'custom-metric.js')],
    });
    expect(config.server).toEqual({
      listen: { host: '127.0.0.1', port: 35601 },
      maxFrameBytes: 65536,
      maxConnections: 10,
      maxInFlightPerConnection: 8,
      partialFrameTimeoutMs: 0,
      drainTimeoutMs: 500,
      workers: 4,
    });
    expect(config.admin.listen).toEqual({ host: '0.0.0.0', port: 9092 });
    expect(config.upstream).toEqual({
      connectTimeoutMs: 300,
      defaultTimeoutMs: 2000,
      maxTimeoutMs: 3000,
      backupRequestDelayMs: 100,
      retryDelayMs: 0,
      maxPendingCalls: 50,
      silentReconnectAfter: 5,
      idleCloseMs: 0,
      dropHostPortFields: true,
      clusters: { onebox: { dropHostPortFields: false }, legacy: {} },
    });
    expect(config.log).toEqual({ level: 'debug', maxSizeBytes: 10 * 1024 * 1024, maxFiles: 3, maxAgeDays: 0 });
  });

  it('accepts a registry file instead of zookeeper', () => {
    const config = loadConfig(join(fixtures, 'registry-only.yaml'));
    expect(config.zookeeper).toBeUndefined();
    expect(config.registry.file).toBe(join(fixtures, 'routes.yaml'));
    expect(config.admin.listen).toBeNull();
    expect(config.server.listen).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('names the file and key of a wrong type', () => {
    const file = join(fixtures, 'wrong-type.yaml');
    expect(() => loadConfig(file)).toThrow(
      `${file}: zookeeper.timeout: expected a positive integer (milliseconds), got "abc"`,
    );
  });

  it('names an unknown key by its path, with a suggestion', () => {
    const file = join(fixtures, 'unknown-key.yaml');
    let message = '';
    try {
      loadConfig(file);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `${file}: zookeeper.address: missing: expected a list of host:port`,
      `${file}: zookeeper.adress: unknown key (did you mean "address"?)`,
    ]);
  });

  it('says so when neither zookeeper nor registry.file is present', () => {
    expect(problems('metric: { type: none }\n')).toEqual([
      '/etc/mp/proxy.yaml: neither a "zookeeper" section nor "registry.file" is set: routes must come from one of them',
    ]);
    expect(problems('')).toHaveLength(1);
  });

  it('reports a missing or unreadable file with its name', () => {
    const file = join(scratch, 'absent.yaml');
    expect(() => loadConfig(file)).toThrow(`${file}: cannot read the configuration file: no such file`);
  });

  it('reports a registry file or custom module that does not exist, by key', () => {
    const file = join(scratch, 'missing-files.yaml');
    writeFileSync(file, 'registry: { file: nope.yaml }\nmetric: { custom: [./gone.js] }\n');
    let lines: string[] = [];
    try {
      loadConfig(file);
    } catch (error) {
      lines = (error as Error).message.split('\n');
    }
    expect(lines).toEqual([
      `${file}: registry.file: expected an existing file, got "${join(scratch, 'nope.yaml')}" (no such file)`,
      `${file}: metric.custom[0]: expected an existing file, got "${join(scratch, 'gone.js')}" (no such file)`,
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(problems('zookeeper:\n  address: [127.0.0.1:2181\n')[0]).toMatch(/^\/etc\/mp\/proxy\.yaml:\d+:\d+: not valid YAML: /);
    expect(problems('zookeeper: {}\nzookeeper: {}\n')[0]).toMatch(/proxy\.yaml:2:\d+: not valid YAML: duplicated mapping key/);
  });
});

describe('parseConfig problems', () => {
  it.each([
    ['zookeeper: { address: [10.0.0.1:70000] }', 'zookeeper.address[0]: expected host:port (port 1-65535), got "10.0.0.1:70000": port 70000 is outside 1-65535'],
    ['zookeeper: { address: "10.0.0.1:2181,10.0.0.2" }', 'zookeeper.address[1]: expected host:port (port 1-65535), got "10.0.0.2": there is no ":port"'],
    ['zookeeper: { address: [10.0.0.1:0] }', 'zookeeper.address[0]: expected host:port (port 1-65535), got "10.0.0.1:0": port 0 is outside 1-65535'],
    ['zookeeper: { address: [300.1.1.1:2181] }', 'zookeeper.address[0]: expected host:port (port 1-65535), got "300.1.1.1:2181": "300.1.1.1" is neither an IPv4 address nor a host name'],
    ['zookeeper: { address: [] }', 'zookeeper.address: expected at least one host:port, got an empty list'],
    ['zookeeper: { address: 2181 }', 'zookeeper.address: expected a list of host:port, got 2181'],
    [`${zk}server: { listen: "0.0.0.0:65536" }`, 'server.listen: expected host:port (port 0-65535), got "0.0.0.0:65536": port 65536 is outside 0-65535'],
    [`${zk}server: { listen: "::1:34601" }`, 'server.listen: expected host:port (port 0-65535), got "::1:34601": an IPv6 host must be written in brackets, e.g. [::1]:34601'],
    [`${zk}admin: { listen: "localhost" }`, 'admin.listen: expected host:port or :port (port 0-65535), or "" to disable, got "localhost": there is no ":port"'],
    ['zookeeper: { address: [a:1], root: pegasus }', `zookeeper.root: expected a ZooKeeper path starting with '/', without a trailing '/' or empty segments, got "pegasus"`],
    ['zookeeper: { address: [a:1], root: /pegasus/ }', `zookeeper.root: expected a ZooKeeper path starting with '/', without a trailing '/' or empty segments, got "/pegasus/"`],
    ['zookeeper: { address: [a:1], timeout: 1.5 }', 'zookeeper.timeout: expected a positive integer (milliseconds), got 1.5'],
    ['zookeeper: { address: [a:1], timeout: 0 }', 'zookeeper.timeout: expected a positive integer (milliseconds), got 0'],
    ['zookeeper: { address: [a:1], tableWatcherCacheCapacity: 5 }', 'zookeeper.tableWatcherCacheCapacity: unknown key (did you mean "table_watcher_cache_capacity"?)'],
    ['zookeeper: { address: [a:1], auth: { scheme: sasl, credential: "u:p" } }', 'zookeeper.auth.scheme: expected "digest" (the only scheme supported), got "sasl"'],
    ['zookeeper: { address: [a:1], auth: { scheme: digest, credential: "hunter2" } }', 'zookeeper.auth.credential: expected "user:password" (the value is not shown)'],
    [`${zk}zookeper_extra: 1`, 'zookeper_extra: unknown key'],
    [`${zk}metrc: { type: none }`, 'metrc: unknown key (did you mean "metric"?)'],
    [`${zk}metric: { type: graphite }`, 'metric.type: expected one of prometheus, falcon, none, got "graphite"'],
    [`${zk}metric: { tags: [region] }`, 'metric.tags[0]: expected key=value, got "region"'],
    [`${zk}metric: { tags: [table=x] }`, `metric.tags[0]: "table" is a label the proxy's own metrics use; choose another tag name (got "table=x")`],
    [`${zk}metric: { tags: ["1x=y"] }`, `metric.tags[0]: expected key=value with a label name of letters, digits and '_' (not starting with a digit or "__"), got "1x=y"`],
    [`${zk}metric: { falcon: { agent_url: "ftp://x" } }`, 'metric.falcon.agent_url: expected an http(s) URL, got "ftp://x"'],
    [`${zk}metric: { custom: ./one.js }`, 'metric.custom: expected a list of module paths, got "./one.js"'],
    [`${zk}server: { max_frame_bytes: 10 }`, 'server.max_frame_bytes: expected an integer from 64 to 1073741824 (bytes), got 10'],
    [`${zk}server: { partial_frame_timeout_ms: -1 }`, 'server.partial_frame_timeout_ms: expected a non-negative integer (milliseconds, 0 = never), got -1'],
    [`${zk}server: 5`, 'server: expected a mapping of keys, got 5'],
    [`${zk}server: { workers: many }`, 'server.workers: expected a non-negative integer or "auto" (processes; 0 and "auto" = one per CPU core), got "many"'],
    [`${zk}server: { workers: -1 }`, 'server.workers: expected a non-negative integer or "auto" (processes; 0 and "auto" = one per CPU core), got -1'],
    [`${zk}upstream: { default_timeout_ms: 9000, max_timeout_ms: 5000 }`, 'upstream.default_timeout_ms: expected at most upstream.max_timeout_ms (5000), got 9000'],
    [`${zk}upstream: { drop_host_port_fields: "yes" }`, 'upstream.drop_host_port_fields: expected true or false, got "yes"'],
    [`${zk}upstream: { clusters: { "c.1": { drop_hostport_fields: true } } }`, 'upstream.clusters["c.1"].drop_hostport_fields: unknown key (did you mean "drop_host_port_fields"?)'],
    [`${zk}log: { level: verbose }`, 'log.level: expected one of trace, debug, info, warn, error, fatal, got "verbose"'],
    [`${zk}log: { max_size_mb: "500MB" }`, 'log.max_size_mb: expected a non-negative integer (megabytes, 0 = never rotate: an external logrotate does), got "500MB"'],
  ])('%s', (text, problem) => {
    expect(problems(`${text}\n`)).toContain(`/etc/mp/proxy.yaml: ${problem}`);
  });

  it('lists every problem, one per line', () => {
    const lines = problems('zookeeper: { adress: x, timeout: abc }\nlog: { level: loud }\n');
    expect(lines).toEqual([
      '/etc/mp/proxy.yaml: zookeeper.address: missing: expected a list of host:port',
      '/etc/mp/proxy.yaml: zookeeper.timeout: expected a positive integer (milliseconds), got "abc"',
      '/etc/mp/proxy.yaml: zookeeper.adress: unknown key (did you mean "address"?)',
      '/etc/mp/proxy.yaml: log.level: expected one of trace, debug, info, warn, error, fatal, got "loud"',
    ]);
  });

  it('never shows the credential in a message', () => {
    const lines = problems('zookeeper: { address: [a:1], auth: { scheme: digest, credential: 123456789 } }\n');
    expect(lines.join('\n')).not.toContain('123456789');
    expect(lines).toEqual(['/etc/mp/proxy.yaml: zookeeper.auth.credential: expected "user:password" (the value is not shown)']);
  });

  it('treats an empty section as all defaults and "" as admin off', () => {
    const config = parseConfig(`${zk}metric:\nserver:\nadmin: { listen: "" }\n`, '/x/c.yaml');
    expect(config.metric.type).toBe('prometheus');
    expect(config.server.listen).toEqual({ host: '0.0.0.0', port: 34601 });
    expect(config.admin.listen).toBeNull();
  });

  it('accepts tags as a comma-separated string', () => {
    expect(parseConfig(`${zk}metric: { tags: "a=1, b=2" }\n`, '/x/c.yaml').metric.tags).toEqual({ a: '1', b: '2' });
  });
});

describe('redactConfig', () => {
  it('replaces the ZooKeeper credential and leaves the config itself untouched', () => {
    const config = loadConfig(join(fixtures, 'full.yaml'));
    const redacted = redactConfig(config) as typeof config;
    expect(redacted.zookeeper?.auth).toEqual({ scheme: 'digest', credential: '***' });
    expect(JSON.stringify(redacted)).not.toContain('s3cret');
    expect(config.zookeeper?.auth?.credential).toBe('proxy:s3cret');
    expect({ ...redacted, zookeeper: config.zookeeper }).toEqual(config);
  });

  it('hides a password in the Falcon agent URL', () => {
    const config = parseConfig(`${zk}metric: { falcon: { agent_url: "http://u:pw@falcon:1988/v1/push" } }\n`, '/x/c.yaml');
    expect((redactConfig(config) as typeof config).metric.falcon.agentUrl).toBe('http://u:***@falcon:1988/v1/push');
  });
});

describe('summarizeConfig', () => {
  it('flags a registry file that zookeeper overrides', () => {
    expect(summarizeConfig(loadConfig(join(fixtures, 'full.yaml')))).toBe(
      'routes from zookeeper 10.0.0.1:2181,zk-2.example.com:2182,[::1]:2183 under /pegasus/routes (registry.file ignored); ' +
        'listen 127.0.0.1:35601 (4 workers); admin 0.0.0.0:9092; metrics falcon (+1 custom); log level debug',
    );
  });

  it('says where routes come from and where it listens', () => {
    expect(summarizeConfig(loadConfig(join(root, 'meta-proxy.yaml')))).toBe(
      'routes from zookeeper 127.0.0.1:2181 under /pegasus-cluster; listen 0.0.0.0:34601; admin 0.0.0.0:9091; metrics prometheus; log level info',
    );
  });
});

describe('server.workers', () => {
  it('defaults to 1 and reads "auto" as 0 (one per CPU core)', () => {
    expect(parseConfig(zk, '/x/c.yaml').server.workers).toBe(1);
    expect(parseConfig(`${zk}server: { workers: auto }`, '/x/c.yaml').server.workers).toBe(0);
    expect(parseConfig(`${zk}server: { workers: 0 }`, '/x/c.yaml').server.workers).toBe(0);
    expect(parseConfig(`${zk}server: { workers: 3 }`, '/x/c.yaml').server.workers).toBe(3);
  });
});
