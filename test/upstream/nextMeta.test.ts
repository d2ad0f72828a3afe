import { describe, expect, it } from 'vitest';
import { nextMeta, type MetaEvent, type MetaSituation, type NextMeta } from '../../src/model/nextMeta.js';

const metas = ['a', 'b', 'c'];
/** A round of the cluster a, b, c (maxForwards = metas + 2); each row overrides what it is about. */
const round = (s: Partial<MetaSituation> = {}): MetaSituation => ({ metas, tried: [], forwards: 0, maxForwards: 5, busy: [], ...s });

const ask = (meta: string, forwarded = false): NextMeta => ({ kind: 'ask', meta, forwarded });
const wait: NextMeta = { kind: 'wait' };
const roundOver: NextMeta = { kind: 'roundOver' };

const table: Array<[string, MetaEvent, MetaSituation, NextMeta]> = [
  // A round begins.
  ['round start, no leader known: the first meta', { kind: 'roundStart', leader: undefined }, round(), ask('a')],
  ['round start, leader known: the leader', { kind: 'roundStart', leader: 'b' }, round(), ask('b')],
  ['round start, leader the route does not list: still the leader', { kind: 'roundStart', leader: 'd' }, round(), ask('d')],
  ['round start, no metas at all: nothing to ask', { kind: 'roundStart', leader: undefined }, round({ metas: [] }), roundOver],

  // A forward.
  ['forward to a meta not asked: follow it', { kind: 'forward', to: 'c' }, round({ tried: ['a'] }), ask('c', true)],
  ['forward to an address the route did not list: follow it', { kind: 'forward', to: 'd' }, round({ tried: ['a'] }), ask('d', true)],
  ['forward to a meta asked already, others left: the next not asked', { kind: 'forward', to: 'a' }, round({ tried: ['a', 'b'] }), ask('c')],
  ['forward to a meta still pending: wait for it', { kind: 'forward', to: 'c' }, round({ tried: ['a', 'b', 'c'], busy: ['c'] }), wait],
  ['forward to a meta asked before, others still pending: wait', { kind: 'forward', to: 'a' }, round({ tried: ['a', 'b', 'c'], busy: ['b'] }), wait],
  ['forward to a meta asked before, nothing pending: the round is over', { kind: 'forward', to: 'b' }, round({ tried: ['a', 'b', 'c'] }), roundOver],
  ['forward naming none: the next not asked', { kind: 'forward', to: undefined }, round({ tried: ['a'] }), ask('b')],
  ['forward naming none, all asked, one pending: wait', { kind: 'forward', to: undefined }, round({ tried: ['a', 'b', 'c'], busy: ['a'] }), wait],
  ['forward naming none, all asked, none pending: the round is over', { kind: 'forward', to: undefined }, round({ tried: ['a', 'b', 'c'] }), roundOver],
  ['forward bound reached: no more forwards, the next not asked', { kind: 'forward', to: 'd' }, round({ tried: ['a'], forwards: 5 }), ask('b')],
  ['forward bound reached, all asked, none pending: the round is over', { kind: 'forward', to: 'd' }, round({ tried: ['a', 'b', 'c'], forwards: 5 }), roundOver],
  ['a retry waiting for the meta named counts as pending', { kind: 'forward', to: 'b' }, round({ tried: ['a', 'b', 'c'], busy: ['b'] }), wait],

  // A failed call.
  ['failed, metas left: the next not asked, in route order', { kind: 'failed' }, round({ tried: ['a'] }), ask('b')],
  ['failed, the leader was asked first: the route\'s first not asked', { kind: 'failed' }, round({ tried: ['b'] }), ask('a')],
  ['failed, all asked, one pending: wait', { kind: 'failed' }, round({ tried: ['a', 'b', 'c'], busy: ['c'] }), wait],
  ['failed, all asked, none pending: the round is over', { kind: 'failed' }, round({ tried: ['a', 'b', 'c'] }), roundOver],
  ['failed, a learnt address not asked: ask it', { kind: 'failed' }, round({ metas: ['a', 'b', 'c', 'd'], tried: ['a', 'b', 'c'] }), ask('d')],

  // The backup time.
  ['backup: every meta not asked, in parallel', { kind: 'backup' }, round({ tried: ['a'], busy: ['a'] }), { kind: 'askEach', metas: ['b', 'c'] }],
  ['backup after following a forward: the rest', { kind: 'backup' }, round({ tried: ['a', 'c'], busy: ['c'] }), { kind: 'askEach', metas: ['b'] }],
  ['backup, every meta asked already: wait', { kind: 'backup' }, round({ tried: ['a', 'b', 'c'], busy: ['b'] }), wait],
];

describe('nextMeta', () => {
  it.each(table)('%s', (_name, event, situation, expected) => {
    expect(nextMeta(event, situation)).toEqual(expected);
  });

  it('reads nothing but its arguments: the same question gets the same answer', () => {
    const situation = round({ tried: ['a'] });
    const before = JSON.stringify(situation);
    expect(nextMeta({ kind: 'failed' }, situation)).toEqual(nextMeta({ kind: 'failed' }, situation));
    expect(JSON.stringify(situation)).toBe(before);
  });
});
