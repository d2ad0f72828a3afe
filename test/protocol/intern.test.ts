import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringInterner } from '../../src/protocol/intern.js';

describe('StringInterner', () => {
  it('reads any bytes as UTF-8, exactly as decoding would', () => {
    const names = new StringInterner(64, 32);
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 8 }), (texts) => {
        const buf = Buffer.from(`xx${texts.join('')}yy`);
        let at = 2;
        for (const text of texts) {
          const length = Buffer.byteLength(text);
          expect(names.get(buf, at, at + length)).toBe(text);
          at += length;
        }
      }),
    );
  });

  it('hands out one string object per name, and stops growing at its capacity', () => {
    const names = new StringInterner(3);
    const bytes = (s: string) => Buffer.from(`--${s}--`);
    const get = (s: string) => names.get(bytes(s), 2, 2 + s.length);
    const a = get('ERR_OK');
    get('temp');
    expect(get('ERR_OK')).toBe(a);
    get('orders');
    get('users');
    get('more');
    expect(names.size).toBe(3);
    expect(get('more')).toBe('more');
    expect(get('ERR_OK')).toBe(a);
  });
});
