/**
 * The baseline a proxy cannot beat: a bare byte pipe to one address, no
 * parsing at all. `node dist/bench/pipe.js <target host:port>` prints
 * `{"port":N}` once listening on 127.0.0.1.
 */
import net from 'node:net';

const [host, port] = (process.argv[2] ?? '').split(':');
const server = net.createServer((client) => {
  const upstream = net.connect({ host, port: Number(port) });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen({ host: '127.0.0.1', port: 0 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
