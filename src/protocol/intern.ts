/**
 * Hands out one string object per distinct short ASCII byte sequence: the
 * table names, RPC names and error names that every request and reply
 * carries. Reading them by hashing bytes already in hand is cheaper than
 * decoding a new string each time, and the same string object each time lets
 * every Map keyed by it (route cache, table pipelines, metrics) reuse the
 * hash V8 caches on the string. A pure memo of immutable values: nothing
 * behaves differently with it or without it. Bounded, so a client sending
 * random names cannot grow it; past the bound, strings are decoded as usual.
 */
export class StringInterner {
  private readonly buckets = new Map<number, string[]>();
  /** The string last handed out for each length: the same few names come again and again. */
  private readonly recent: Array<string | undefined>;
  private count = 0;

  /**
   * @param capacity distinct strings kept at most
   * @param maxBytes longer byte sequences are decoded, not interned
   */
  constructor(
    private readonly capacity = 16_384,
    private readonly maxBytes = 96,
  ) {
    this.recent = new Array<string | undefined>(maxBytes + 1).fill(undefined);
  }

  /** The string of `buf[start, end)` read as UTF-8. */
  get(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > this.maxBytes) return buf.toString('utf8', start, end);
    const last = this.recent[length];
    if (last !== undefined && sameAscii(last, buf, start)) return last;
    const found = this.lookup(buf, start, end, length);
    if (found.length === length) this.recent[length] = found;
    return found;
  }

  private lookup(buf: Buffer, start: number, end: number, length: number): string {
    // FNV-1a over the bytes; a non-ASCII byte means UTF-8 decoding is needed.
    let hash = 0x811c9dc5 ^ length;
    for (let i = start; i < end; i++) {
      const byte = buf[i]!;
      if (byte > 0x7f) return buf.toString('utf8', start, end);
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    const bucket = this.buckets.get(hash);
    if (bucket !== undefined) {
      for (const candidate of bucket) {
        if (candidate.length === length && sameAscii(candidate, buf, start)) return candidate;
      }
    }
    const decoded = buf.toString('latin1', start, end);
    if (this.count < this.capacity) {
      this.count++;
      if (bucket === undefined) this.buckets.set(hash, [decoded]);
      else bucket.push(decoded);
    }
    return decoded;
  }

  get size(): number {
    return this.count;
  }
}

function sameAscii(s: string, buf: Buffer, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}
