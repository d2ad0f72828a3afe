import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BatchedWriter, type CorkableWriter } from '../../src/io/batchedWriter.js';

/** A socket that logs its calls; `write` answers from `full` (true = buffer full). */
function fakeSocket(name: string, log: string[], full: () => boolean = () => false): CorkableWriter {
  return {
    cork: () => log.push(`${name} cork`),
    uncork: () => log.push(`${name} uncork`),
    write: (chunk) => (log.push(`${name} ${chunk.toString()}`), !full()),
  };
}

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('BatchedWriter', () => {
  it('corks each socket on its first write of a turn and uncorks them all once at its end', async () => {
    const log: string[] = [];
    const writer = new BatchedWriter();
    const a = fakeSocket('a', log);
    const b = fakeSocket('b', log);
    writer.write(a, Buffer.from('1'));
    writer.write(b, Buffer.from('2'));
    writer.write(a, Buffer.from('3'));
    expect(log).toEqual(['a cork', 'a 1', 'b cork', 'b 2', 'a 3']);
    await tick();
    expect(log.slice(5)).toEqual(['a uncork', 'b uncork']);
    // The next turn is a batch of its own.
    writer.write(a, Buffer.from('4'));
    await tick();
    expect(log.slice(7)).toEqual(['a cork', 'a 4', 'a uncork']);
  });

  it("returns the socket's own write() result, so a full buffer stops the caller", () => {
    let full = false;
    const writer = new BatchedWriter();
    const socket = fakeSocket('a', [], () => full);
    expect(writer.write(socket, Buffer.from('1'))).toBe(true);
    full = true;
    expect(writer.write(socket, Buffer.from('2'))).toBe(false);
  });

  it('a real socket: frames of one turn leave in one writev, and arrive whole', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    const [peer] = (await once(server, 'connection')) as [net.Socket];
    await once(client, 'connect');
    let writevs = 0;
    const writev = (client as unknown as { _writev: (...args: unknown[]) => void })._writev;
    (client as unknown as { _writev: (...args: unknown[]) => void })._writev = function (this: unknown, ...args: unknown[]) {
      writevs++;
      return writev.apply(this, args);
    };
    const received: Buffer[] = [];
    peer.on('data', (chunk: Buffer) => received.push(chunk));
    const writer = new BatchedWriter();
    for (const frame of ['one', 'two', 'three']) writer.write(client, Buffer.from(frame));
    expect(client.writableCorked).toBe(1);
    await tick();
    expect(client.writableCorked).toBe(0);
    while (Buffer.concat(received).length < 11) await once(peer, 'data');
    expect(Buffer.concat(received).toString()).toBe('onetwothree');
    expect(writevs).toBe(1);
    client.destroy();
    peer.destroy();
    server.close();
  });
});
