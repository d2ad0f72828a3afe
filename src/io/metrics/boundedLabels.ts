/** The label value every series beyond a label's bound is counted under. */
export const OTHER_LABEL = 'other';

/**
 * A bounded set of label values. Clients choose table names freely, and every
 * distinct label value is a series kept for the life of the process, so a
 * label whose values come from outside must not grow without limit.
 */
export interface BoundedLabels {
  /** `value` when it is admitted, else `other`. Never admits. */
  known(value: string): string;
  /** Admits `value` while there is room, then answers like `known`. */
  admit(value: string): string;
  readonly size: number;
}

/** A set that admits at most `capacity` distinct values; the rest map to `other`. */
export function createBoundedLabels(capacity: number): BoundedLabels {
  const values = new Set<string>([OTHER_LABEL]);
  // `other` is always present, so the bound counts it as one of the values.
  const limit = Math.max(1, capacity) + 1;
  return {
    known: (value) => (values.has(value) ? value : OTHER_LABEL),
    admit(value) {
      if (values.has(value)) return value;
      if (values.size >= limit) return OTHER_LABEL;
      values.add(value);
      return value;
    },
    get size() {
      return values.size - 1;
    },
  };
}

/**
 * A per-label-value cache of a metric's labelled child, so the hot path does one
 * Map lookup instead of prom-client's label validation and hashing. Its size is
 * bounded by the `BoundedLabels` that produce the keys.
 */
export function childCache<C>(create: (value: string) => C): (value: string) => C {
  const children = new Map<string, C>();
  return (value) => {
    let child = children.get(value);
    if (child === undefined) {
      child = create(value);
      children.set(value, child);
    }
    return child;
  };
}
