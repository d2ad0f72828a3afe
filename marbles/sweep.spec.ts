import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { createSweep, type Sleeper } from '../src/model/sweep.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

/** A sleeper that logs `name@now` when woken and then sleeps until its next time, if any. */
function sleeper(name: string, times: number[], log: string[], sweep: ReturnType<typeof createSweep>): Sleeper {
  const s: Sleeper = {
    wakeAt: times.shift() ?? Infinity,
    wake(now) {
      log.push(`${name}@${now}`);
      s.wakeAt = times.shift() ?? Infinity;
      if (s.wakeAt === Infinity) sweep.disarm(s);
      else sweep.arm(s);
    },
  };
  return s;
}

describe('createSweep', () => {
  it('wakes each sleeper at its time with one timer, re-armed earlier when an earlier sleeper comes', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const sweep = createSweep(scheduler);
      const log: string[] = [];
      sweep.arm(sleeper('a', [3], log, sweep));
      sweep.arm(sleeper('b', [5, 8], log, sweep));
      // c comes at frame 1 and wants frame 2, before the armed 3.
      cold('-x').subscribe(() => sweep.arm(sleeper('c', [2], log, sweep)));
      flush();
      expect(log).toEqual(['c@2', 'a@3', 'b@5', 'b@8']);
      expect(sweep.size()).toBe(0);
    });
  });

  it('rounds wake-ups up to the tick, sharing them', () => {
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      const sweep = createSweep(scheduler, 10);
      const log: string[] = [];
      sweep.arm(sleeper('a', [3], log, sweep));
      sweep.arm(sleeper('b', [7], log, sweep));
      sweep.arm(sleeper('c', [12], log, sweep));
      flush();
      expect(log).toEqual(['a@10', 'b@10', 'c@20']);
    });
  });

  it('forgets a disarmed sleeper, and close() stops everything', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const sweep = createSweep(scheduler);
      const log: string[] = [];
      const a = sleeper('a', [3], log, sweep);
      sweep.arm(a);
      sweep.arm(sleeper('b', [6], log, sweep));
      cold('-x').subscribe(() => sweep.disarm(a));
      cold('----x').subscribe(() => sweep.close());
      flush();
      expect(log).toEqual([]);
      sweep.arm(sleeper('c', [9], log, sweep));
      flush();
      expect(log).toEqual([]);
    });
  });

  it('catches a sleeper that moved earlier while the sweep was running', () => {
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      const sweep = createSweep(scheduler);
      const log: string[] = [];
      const late: Sleeper = { wakeAt: 50, wake: (now) => (log.push(`late@${now}`), (late.wakeAt = Infinity), sweep.disarm(late)) };
      sweep.arm(late);
      const early: Sleeper = {
        wakeAt: 2,
        wake(now) {
          log.push(`early@${now}`);
          early.wakeAt = Infinity;
          sweep.disarm(early);
          // Visited before or after `late` in this sweep: either way it must wake at 4.
          late.wakeAt = 4;
          sweep.arm(late);
        },
      };
      sweep.arm(early);
      flush();
      expect(log).toEqual(['early@2', 'late@4']);
    });
  });
});
