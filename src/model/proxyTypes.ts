/** What the proxy tells the outside world about its work; metrics and logs plug in here. */
export interface QueryFinished {
  table: string;
  /** The cluster that answered (or was being asked), when the table had a route. */
  cluster?: string;
  /** The error name the client got in the reply body (`ERR_OK` on success). */
  code: string;
  latencyMs: number;
  peer: string;
}

export interface ProxyHooks {
  connectionOpened?(peer: string): void;
  connectionClosed?(peer: string): void;
  /** A query-config request arrived (what `client_query_config_count{table}` counts). */
  queryReceived?(table: string): void;
  queryFinished?(event: QueryFinished): void;
  /** An in-flight query was re-issued because its table's route changed. */
  rerouted?(table: string, from: string, to: string): void;
  /** A connection was closed for sending something that is not a valid frame. */
  frameRejected?(peer: string, reason: string): void;
}
