/**
 * Which meta a cluster call asks next (docs/PROTOCOL.md §6–7), as a pure
 * function of what happened and what the call knows: the choice
 * `LeaderFollowingCall` makes at the start of a round, after a forward, after
 * a failed call and at the backup time. It reads nothing but its arguments.
 */

/** What the call has just seen. */
export type MetaEvent =
  /** A round begins: ask the known leader, else the route's first meta. */
  | { kind: 'roundStart'; leader: string | undefined }
  /** A meta answered ERR_FORWARD_TO_OTHERS, naming `to` (or nobody). */
  | { kind: 'forward'; to: string | undefined }
  /** A call failed (refused, dropped, unreadable): the next meta, at once. */
  | { kind: 'failed' }
  /** No final answer within the backup delay: every meta not asked yet, in parallel. */
  | { kind: 'backup' };

/** What the call knows about this round. */
export interface MetaSituation {
  /** Metas to ask, in the route's order (plus any address a forward taught). */
  readonly metas: readonly string[];
  /** Metas asked this round, pending ones included. */
  readonly tried: readonly string[];
  /** Forwards followed this round, and how many a round may follow (two metas naming each other cannot loop). */
  readonly forwards: number;
  readonly maxForwards: number;
  /** Metas with a call in flight or a retry waiting. */
  readonly busy: readonly string[];
}

export type NextMeta =
  /** Ask `meta` now; `forwarded`: it is a forward followed (counted, and learnt when the route did not list it). */
  | { kind: 'ask'; meta: string; forwarded: boolean }
  /** Ask each of `metas` now, in parallel (the backup requests). */
  | { kind: 'askEach'; metas: readonly string[] }
  /** Ask nobody: a pending call or retry decides what comes next. */
  | { kind: 'wait' }
  /** Nothing left to ask and nothing pending: this round gave up; the next starts after the retry delay. */
  | { kind: 'roundOver' };

const WAIT: NextMeta = { kind: 'wait' };
const ROUND_OVER: NextMeta = { kind: 'roundOver' };

/**
 * ```
 * roundStart, leader b          → ask b
 * forward to d (new), 0 of 4    → ask d, forwarded
 * forward to a, a asked already → the next meta not asked, else wait / roundOver
 * forward to a, a still pending → wait
 * failed, c not asked yet       → ask c
 * backup, b and c not asked     → askEach [b, c]
 * ```
 */
export function nextMeta(event: MetaEvent, s: MetaSituation): NextMeta {
  switch (event.kind) {
    case 'roundStart': {
      const first = event.leader ?? s.metas[0];
      return first === undefined ? ROUND_OVER : { kind: 'ask', meta: first, forwarded: false };
    }
    case 'forward': {
      const to = event.to;
      if (to !== undefined && !s.tried.includes(to) && s.forwards < s.maxForwards) return { kind: 'ask', meta: to, forwarded: true };
      // The named leader is being asked already: this path ends here.
      if (to !== undefined && s.busy.includes(to)) return WAIT;
      return untriedOrRest(s);
    }
    case 'failed':
      return untriedOrRest(s);
    case 'backup': {
      const untried = s.metas.filter((m) => !s.tried.includes(m));
      // Every meta was asked before the backup time: their outcomes decide.
      return untried.length === 0 ? WAIT : { kind: 'askEach', metas: untried };
    }
  }
}

/** The next meta not asked this round; with none, wait for what is pending, or end the round. */
function untriedOrRest(s: MetaSituation): NextMeta {
  const next = s.metas.find((m) => !s.tried.includes(m));
  if (next !== undefined) return { kind: 'ask', meta: next, forwarded: false };
  return s.busy.length > 0 ? WAIT : ROUND_OVER;
}
