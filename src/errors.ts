/**
 * The catalogue of coded errors this project raises. Every error carries a
 * stable `code` (for logs and tests) and a full-sentence message that names the
 * thing at fault (file, key, table, peer).
 */
export class MetaProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The configuration file is missing, unreadable or invalid. Exit code 2. */
export class ConfigError extends MetaProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('META_PROXY_CONFIG', message, options);
  }
}

/** The command line is wrong. Exit code 2. */
export class UsageError extends MetaProxyError {
  constructor(message: string) {
    super('META_PROXY_USAGE', message);
  }
}

/**
 * A client sent bytes that are not a valid request frame. The connection that
 * sent them is closed; nothing else is affected.
 */
export class FrameError extends MetaProxyError {
  constructor(
    readonly reason:
      | 'bad-magic'
      | 'bad-version'
      | 'bad-header-length'
      | 'too-large'
      | 'bad-meta'
      | 'idle',
    message: string,
  ) {
    super('META_PROXY_FRAME', message);
  }
}

/** A thrift body could not be read (truncated, wrong type, bad length). */
export class ProtocolError extends MetaProxyError {
  constructor(message: string) {
    super('META_PROXY_PROTOCOL', message);
  }
}

/** An upstream MetaServer could not be reached or its connection dropped. */
export class UpstreamError extends MetaProxyError {
  constructor(
    readonly meta: string,
    readonly kind: 'connect' | 'closed' | 'timeout' | 'protocol' | 'overloaded',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('META_PROXY_UPSTREAM', message, options);
  }
}

/** A ZooKeeper operation failed. */
export class ZooKeeperError extends MetaProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('META_PROXY_ZOOKEEPER', message, options);
  }
}
