import { describe, expect, it } from 'vitest';
import { mergeHooks } from '../../src/streams/mergeHooks.js';
import type { ProxyHooks } from '../../src/model/proxyTypes.js';

describe('mergeHooks', () => {
  it('calls every set that has a hook, in order, and leaves absent hooks absent', () => {
    const calls: string[] = [];
    const a: ProxyHooks = { queryReceived: (table) => void calls.push(`a:${table}`) };
    const b: ProxyHooks = {
      queryReceived: (table) => void calls.push(`b:${table}`),
      frameRejected: (peer, reason) => void calls.push(`b:${peer}:${reason}`),
    };
    const merged = mergeHooks(a, undefined, {}, b);
    merged.queryReceived!('t');
    merged.frameRejected!('p', 'too-large');
    expect(calls).toEqual(['a:t', 'b:t', 'b:p:too-large']);
    expect(Object.keys(merged).sort()).toEqual(['frameRejected', 'queryReceived']);
    expect(mergeHooks({}, undefined)).toEqual({});
  });

  it('keeps `this` of a hook object with methods', () => {
    const counter = {
      count: 0,
      connectionOpened() {
        this.count += 1;
      },
    };
    mergeHooks(counter).connectionOpened!('p');
    expect(counter.count).toBe(1);
  });
});
