/**
 * Pure decisions of repair and rebalance for one object this node holds, from placement and the
 * owners' answers. No I/O: the rules are here, repair.ts asks and acts.
 *
 * - owners: the first R of placement order over the members (live, or gone less than the grace).
 * - Only one holder acts per object: the first owner in placement order that holds a current copy
 *   (one at least as new as ours); a holder that is not an owner acts only when no owner holds a
 *   current copy. Copies go to live owners that lack one; owners within the grace are skipped.
 * - A holder that is not an owner drops its copy only when every one of the R owners is live and
 *   confirmed a current copy: never fewer than R copies while data moves.
 */
export interface ObjectFacts {
  /** Member addresses in placement order for the object. */
  order: readonly string[];
  replicas: number;
  /** This node's address. */
  self: string;
  /** Live member addresses. */
  live: ReadonlySet<string>;
  /** Owners (other than this node) that confirmed a copy at least as new as ours. */
  current: ReadonlySet<string>;
  /** Owners that could not be asked this round: nothing is sent to them, nothing dropped for them. */
  unreachable: ReadonlySet<string>;
}

export interface ObjectPlan {
  owners: string[];
  /** True when this node is the one holder that acts for the object. */
  acts: boolean;
  /** Live owners to send our copy to (empty unless `acts`). */
  copyTo: string[];
  /** Drop our copy: we are not an owner and all R owners confirmed. */
  drop: boolean;
  /** Owners holding a current copy (this node included when it is one). */
  copies: number;
}

export function planObject(f: ObjectFacts): ObjectPlan {
  const owners = f.order.slice(0, f.replicas);
  const selfOwner = owners.includes(f.self);
  const copies = owners.filter((a) => a === f.self || f.current.has(a)).length;
  let acts: boolean;
  if (selfOwner) {
    const before = owners.slice(0, owners.indexOf(f.self));
    acts = !before.some((a) => f.current.has(a));
  } else {
    acts = !owners.some((a) => f.current.has(a));
  }
  const copyTo = acts
    ? owners.filter((a) => a !== f.self && f.live.has(a) && !f.current.has(a) && !f.unreachable.has(a))
    : [];
  const drop =
    !selfOwner && owners.length === f.replicas && owners.every((a) => f.live.has(a) && f.current.has(a));
  return { owners, acts, copyTo, drop, copies };
}
