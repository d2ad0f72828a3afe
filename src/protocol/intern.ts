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
  /**
   * The strings kept, in an open-addressed table (linear probing, at most half
   * full) beside their hashes: a probe reads two arrays, where a
   * `Map<hash, string[]>` hashed the hash again and walked a bucket array.
   */
  private slots: Array<string | undefined> = new Array<string | undefined>(64).fill(undefined);
  private hashes = new Int32Array(64);
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
    const slots = this.slots;
    const hashes = this.hashes;
    const mask = slots.length - 1;
    let at = hash & mask;
    for (let candidate = slots[at]; candidate !== undefined; candidate = slots[at]) {
      if (hashes[at] === hash && candidate.length === length && sameAscii(candidate, buf, start)) return candidate;
      at = (at + 1) & mask;
    }
    const decoded = buf.toString('latin1', start, end);
    if (this.count < this.capacity) {
      this.count++;
      slots[at] = decoded;
      hashes[at] = hash;
      if (2 * this.count > slots.length) this.grow();
    }
    return decoded;
  }

  /** Doubles the table, placing every string again. */
  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    const size = oldSlots.length * 2;
    const mask = size - 1;
    this.slots = new Array<string | undefined>(size).fill(undefined);
    this.hashes = new Int32Array(size);
    for (let i = 0; i < oldSlots.length; i++) {
      const s = oldSlots[i];
      if (s === undefined) continue;
      let at = oldHashes[i]! & mask;
      while (this.slots[at] !== undefined) at = (at + 1) & mask;
      this.slots[at] = s;
      this.hashes[at] = oldHashes[i]!;
    }
  }

  get size(): number {
    return this.count;
  }
}

function sameAscii(s: string, buf: Buffer, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}
