import { MetaProxyError } from '../errors.js';

/** A command could not do what it was asked (ZooKeeper down, cluster unreachable, nothing to switch). Exit code 1. */
export class CtlFailure extends MetaProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('META_PROXY_CTL', message, options);
  }
}

/** What happened to a route node between reading it and writing it. */
export type ConflictKind = 'changed' | 'deleted' | 'created';

/**
 * A route changed under the command between its read and its write: another
 * operator (or tool) wrote it. Nothing of the command's write was applied.
 */
export class ConflictError extends CtlFailure {
  constructor(
    readonly table: string,
    readonly kind: ConflictKind,
    where: string,
  ) {
    const what = kind === 'changed' ? 'was changed' : kind === 'deleted' ? 'was deleted' : 'was created';
    super(`The route of table ${JSON.stringify(table)} ${what} in ${where} after this command read it, so nothing was written.`);
  }
}
