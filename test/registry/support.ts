import { filter, firstValueFrom, timeout, type Observable } from 'rxjs';

/** The first value of `source$` that passes `test`, or a rejection naming `what` after `ms`. */
export function waitFor<T>(source$: Observable<T>, test: (value: T) => boolean, what: string, ms = 5000): Promise<T> {
  return firstValueFrom(
    source$.pipe(
      filter(test),
      timeout({
        first: ms,
        with: () => {
          throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        },
      }),
    ),
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const routeJson = (cluster: string, metas = '127.0.0.1:34601') => ({ cluster_name: cluster, meta_addrs: metas });
