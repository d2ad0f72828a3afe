/** What the writer needs of a socket (`net.Socket` has it; tests can fake it). */
export interface CorkableWriter {
  cork(): void;
  uncork(): void;
  write(chunk: Buffer): boolean;
}

/**
 * Batches writes per turn of the event loop: a socket is corked on its first
 * write of the turn and every socket written to is uncorked together at the
 * turn's end (one `process.nextTick` for all of them), so what one turn writes
 * to a socket leaves in one writev. A syscall per frame dominated the profile
 * on both sides: replies to clients (one upstream chunk finishes many) and
 * requests to metas (one client chunk carries many).
 *
 * `write` returns the socket's own `write()` result: false means its buffer
 * is full and the caller should hold off until the socket's 'drain' (client
 * connections stop reading their client; upstream connections bound what can
 * be buffered by their pending-call limit).
 */
export class BatchedWriter {
  private readonly corked = new Set<CorkableWriter>();
  private readonly uncorkAll = (): void => {
    for (const socket of this.corked) socket.uncork();
    this.corked.clear();
  };

  write(socket: CorkableWriter, frame: Buffer): boolean {
    if (!this.corked.has(socket)) {
      if (this.corked.size === 0) process.nextTick(this.uncorkAll);
      this.corked.add(socket);
      socket.cork();
    }
    return socket.write(frame);
  }
}
