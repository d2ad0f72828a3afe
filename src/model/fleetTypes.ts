/**
 * The fleet: every running instance registers an ephemeral node named by its
 * advertised client address under `zookeeper.instances_path`.
 */

/** What an instance's node holds (JSON). */
export interface InstanceRecord {
  /** The advertised client address, `host:port` (also the node's name). */
  listen: string;
  /** The admin URL, `http://host:port`; null when the admin server is off. */
  admin: string | null;
  version: string;
  pid: number;
  /** ISO time the process started. */
  startedAt: string;
  /** `zookeeper.root` of the instance: where its routes come from. */
  routesRoot: string;
  /** As `/readyz`: the client listener accepts and the route registry is usable. */
  ready: boolean;
}

/** One registered instance as a reader sees it; fields are null when the node does not hold them. */
export interface FleetInstance {
  /** The node's name: the advertised client address. */
  name: string;
  listen: string;
  admin: string | null;
  version: string | null;
  pid: number | null;
  startedAt: string | null;
  routesRoot: string | null;
  ready: boolean | null;
  /** Set when the node's data is not an instance record: what is wrong with it. */
  invalid?: string;
}

/** The `fleet` field of `/status.json`. */
export interface FleetStatus {
  /** `zookeeper.instances_path`. */
  path: string;
  /** This instance's node name. */
  self: string;
  instances: Array<Omit<FleetInstance, 'routesRoot'> & { self: boolean }>;
  /** Set when ZooKeeper could not be read just now: `instances` are those of the last good read. */
  error?: string;
}

/** The fleet as this process sees it (ZooKeeper only). */
export interface FleetView {
  /** `zookeeper.instances_path`. */
  readonly path: string;
  /** This instance's node name. */
  readonly self: string;
  /** The instances of the last read; a read older than a second starts a new one for the next caller. */
  instances(): FleetInstance[];
  /** `/status.json`'s `fleet` field, from a read at most a second old. */
  status(): Promise<FleetStatus>;
}

/** A child node as read: its name and data. */
export interface NamedNode {
  name: string;
  data: Buffer;
}
