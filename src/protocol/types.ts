/** Shapes shared by the wire codec and its users. Integers are big-endian on the wire. */

/** Fields of a request's rDSN header, from a v0 fixed header or a v1 request meta. */
export interface RequestHeader {
  version: 0 | 1;
  appId: number;
  partitionIndex: number;
  /** The client's own timeout in ms; 0 when unset (Node.js), may be garbage (Go). */
  clientTimeoutMs: number;
  partitionHash: bigint;
  isBackupRequest: boolean;
}

/** One complete request frame. `body` is a view (`subarray`) of the socket bytes where possible. */
export interface RequestFrame {
  header: RequestHeader;
  /** The thrift body: message begin + args struct. */
  body: Buffer;
}

/** A thrift message begin, read from a request body. */
export interface MessageBegin {
  name: string;
  /** 1 CALL, 4 ONEWAY. */
  type: number;
  seqid: number;
  /** Offset in the body where the args struct starts. */
  argsOffset: number;
}

/** `query_cfg_request` as read from a client's args. */
export interface QueryConfigRequest {
  table: string;
  /** Empty when the client sent none or an empty list (both mean "all partitions"). */
  partitionIndices: number[];
}

/** What the proxy needs to know about a MetaServer's reply frame. */
export interface MetaReply {
  /** Header error name, `ERR_OK` for every handled meta RPC. */
  headerError: string;
  /** Reply name, e.g. `RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK`. */
  name: string;
  seqid: number;
  /** Byte offset of the 4-byte seqid inside the frame (for rewriting it in place in a copy). */
  seqidOffset: number;
  /** Byte offset where the result wrapper struct starts (absent when the header error is not ERR_OK). */
  resultOffset?: number;
  /** The response struct's `err` (field 1), when there is a body and it could be read. */
  bodyError?: string;
  /**
   * For `ERR_FORWARD_TO_OTHERS`: the leader named by `partitions[0]` as `host:port`
   * (`hp_primary` when present, else `primary` as dotted IPv4). Absent when the
   * list is empty or the address is invalid (0.0.0.0:0).
   */
  forward?: string;
}
