import type { Subscription } from 'rxjs';
import { flowControl, type FlowControl, type FlowEvent } from '../operators/flowControl.js';
import type { ClientConnection } from '../model/connectionTypes.js';

/**
 * A connection's writes and whether it is read, as plain calls: replies go to
 * the socket, and `flowControl`'s decisions (the in-flight limit, a client not
 * draining its replies, draining for shutdown) pause and resume reading.
 */
export class ConnectionFlow {
  private readonly flow: FlowControl;
  /** Listened to only while a write is blocked: an idle connection holds no drain subscription. */
  private writeBlocked: Subscription | undefined;
  private stopped = false;

  constructor(
    private readonly connection: ClientConnection,
    maxInFlight: number,
  ) {
    this.flow = flowControl(maxInFlight);
  }

  /** Writes one reply; past the socket's buffer, reading pauses until it drains. */
  write(reply: Buffer): void {
    const connection = this.connection;
    if (!connection.write(reply) && this.writeBlocked === undefined && !this.stopped) {
      this.writeBlocked = connection.drain$.subscribe(() => this.onDrained());
      this.event('blocked');
    }
  }

  event(event: FlowEvent): void {
    if (this.stopped) return;
    const pause = this.flow.apply(event);
    if (pause === true) this.connection.pause();
    else if (pause === false) this.connection.resume();
  }

  /** The connection is over: no more pausing or resuming, no drain listener. */
  stop(): void {
    this.stopped = true;
    this.writeBlocked?.unsubscribe();
    this.writeBlocked = undefined;
  }

  private onDrained(): void {
    this.writeBlocked?.unsubscribe();
    this.writeBlocked = undefined;
    this.event('drained');
  }
}
