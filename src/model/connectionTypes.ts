import type { Observable } from 'rxjs';

/**
 * One client connection as the streams see it: bytes in, replies out, and
 * flow control. The TCP server driver provides it; tests can fake it.
 */
export interface ClientConnection {
  readonly id: number;
  /** `ip:port` of the client, for logs. */
  readonly peer: string;
  /** Socket chunks; completes when the client ends its side, never errors (a reset completes it too). */
  readonly chunks$: Observable<Buffer>;
  /** Emits once when the socket is gone (closed or destroyed). */
  readonly closed$: Observable<void>;
  /** Queue a reply; false when the socket's buffer is full (stop reading until `drain$`). */
  write(frame: Buffer): boolean;
  /** Emits each time a full write buffer has drained. */
  readonly drain$: Observable<void>;
  /** Stop / resume reading from the client (TCP backpressure). */
  pause(): void;
  resume(): void;
  /** Finish writing what is queued, then close. */
  end(): void;
  /** Close at once. */
  destroy(): void;
}
