import { isIPv4, isIPv6 } from 'node:net';

/** A parsed `host:port`; IPv6 hosts are kept without brackets. */
export interface HostPort {
  host: string;
  port: number;
}

export interface HostPortRules {
  /** Lowest port accepted: 0 for listen addresses (ephemeral), 1 for addresses we connect to. */
  minPort: number;
  /** Host used for `:port`; without it a missing host is an error. */
  defaultHost?: string;
}

// RFC 1123 labels; underscores are tolerated because internal DNS names often carry them.
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const DOTTED_NUMBERS = /^\d+(?:\.\d+){3}$/;
const DIGITS = /^\d+$/;

/**
 * Parses `host:port`, `[v6]:port` or (with a default host) `:port`.
 * Returns the reason in words when the text is not one of those.
 */
export function parseHostPort(text: string, rules: HostPortRules): HostPort | { error: string } {
  const trimmed = text.trim();
  let host: string;
  let portText: string;
  if (trimmed.startsWith('[')) {
    const match = /^\[([^\]]*)\]:(.*)$/.exec(trimmed);
    if (!match) return { error: 'a bracketed IPv6 host must be followed by :port' };
    host = match[1] ?? '';
    portText = match[2] ?? '';
    if (!isIPv6(host)) return { error: `"${host}" is not an IPv6 address` };
  } else {
    const colon = trimmed.lastIndexOf(':');
    if (colon < 0) return { error: 'there is no ":port"' };
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
    if (host.includes(':')) return { error: 'an IPv6 host must be written in brackets, e.g. [::1]:34601' };
    if (host === '') {
      if (rules.defaultHost === undefined) return { error: 'the host is missing' };
      host = rules.defaultHost;
    } else if (DOTTED_NUMBERS.test(host) ? !isIPv4(host) : !HOST_NAME.test(host)) {
      return { error: `"${host}" is neither an IPv4 address nor a host name` };
    }
  }
  if (!DIGITS.test(portText)) return { error: `the port "${portText}" is not a number` };
  const port = Number(portText);
  if (port < rules.minPort || port > 65535) {
    return { error: `port ${port} is outside ${rules.minPort}-65535` };
  }
  return { host, port };
}

/** The inverse of `parseHostPort`: brackets IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}
