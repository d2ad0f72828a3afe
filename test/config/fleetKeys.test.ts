import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const FILE = '/etc/mp/proxy.yaml';

function problems(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error('expected the configuration to be rejected');
}

describe('zookeeper.instances_path', () => {
  it('defaults to /meta-proxy/instances and takes another path outside the root', () => {
    expect(parseConfig('zookeeper: { address: [a:1] }\n', FILE).zookeeper?.instancesPath).toBe('/meta-proxy/instances');
    expect(parseConfig('zookeeper: { address: [a:1], instances_path: /ops/mp }\n', FILE).zookeeper?.instancesPath).toBe('/ops/mp');
    // A sibling whose name merely starts with the root's is outside it.
    expect(parseConfig('zookeeper: { address: [a:1], root: /routes, instances_path: /routes-instances }\n', FILE).zookeeper?.instancesPath).toBe('/routes-instances');
  });

  it.each([
    ['/pegasus-cluster/instances', '/pegasus-cluster'],
    ['/pegasus-cluster', '/pegasus-cluster'],
    ['/ops', '/ops/routes'],
  ])('rejects %s with root %s, naming the file and key', (path, root) => {
    expect(problems(`zookeeper: { address: [a:1], root: ${root}, instances_path: ${path} }\n`)).toEqual([
      `${FILE}: zookeeper.instances_path: expected a path outside the routes root zookeeper.root (${root}) and not above it, got "${path}"`,
    ]);
  });

  it('rejects what is not a ZooKeeper path', () => {
    expect(problems('zookeeper: { address: [a:1], instances_path: instances/ }\n')[0]).toMatch(/^\/etc\/mp\/proxy\.yaml: zookeeper\.instances_path: expected a ZooKeeper path/);
  });
});

describe('server.advertise and admin.advertise', () => {
  it('are absent by default (the bound address is advertised)', () => {
    const config = parseConfig('zookeeper: { address: [a:1] }\n', FILE);
    expect(config.server.advertise).toBeUndefined();
    expect(config.admin.advertise).toBeUndefined();
  });

  it('read host:port, a port 0 meaning the bound port', () => {
    const config = parseConfig('zookeeper: { address: [a:1] }\nserver: { advertise: "proxy-1.example.com:34601" }\nadmin: { advertise: "10.1.2.3:0" }\n', FILE);
    expect(config.server.advertise).toEqual({ host: 'proxy-1.example.com', port: 34601 });
    expect(config.admin.advertise).toEqual({ host: '10.1.2.3', port: 0 });
  });

  it.each([
    ['server: { advertise: ":34601" }', 'server.advertise: expected host:port that clients dial (port 0 = the bound port), got ":34601": the host is missing'],
    ['server: { advertise: "0.0.0.0:34601" }', 'server.advertise: expected host:port that clients dial (port 0 = the bound port), got "0.0.0.0:34601": others cannot dial 0.0.0.0'],
    ['admin: { advertise: "[::]:9091" }', 'admin.advertise: expected host:port that operators dial (port 0 = the bound port), got "[::]:9091": others cannot dial ::'],
    ['admin: { advertise: 9091 }', 'admin.advertise: expected host:port that operators dial (port 0 = the bound port), got 9091'],
  ])('rejects %s', (section, message) => {
    expect(problems(`zookeeper: { address: [a:1] }\n${section}\n`)).toEqual([`${FILE}: ${message}`]);
  });
});
