import { isIPv6 } from "node:net";

/**
 * Which "source" a remote address counts as for the stranger caps: an IPv4 address (also when
 * IPv4-mapped), or an IPv6 /64, since one host commonly holds a whole /64.
 */
export function sourceOf(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!isIPv6(address)) return address;
  const [head = "", tail] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Connections that have not authenticated yet, in arrival order, per source and in all. Adding
 * one over a cap evicts the oldest of its source (or, over the total cap, the oldest of all); the
 * caller closes what is returned.
 */
export class Strangers<T> {
  readonly #perSource: number;
  readonly #total: number;
  readonly #bySource = new Map<string, Set<T>>();
  readonly #all = new Map<T, string>();

  constructor(perSource: number, total: number) {
    this.#perSource = perSource;
    this.#total = total;
  }

  get size(): number {
    return this.#all.size;
  }

  /** Records `item` from `address`; returns the strangers it displaces. */
  add(address: string, item: T): T[] {
    const source = sourceOf(address);
    const evicted: T[] = [];
    let same = this.#bySource.get(source);
    if (same === undefined) {
      same = new Set();
      this.#bySource.set(source, same);
    }
    while (same.size >= this.#perSource) {
      const oldest = same.values().next().value as T;
      this.remove(oldest);
      evicted.push(oldest);
    }
    while (this.#all.size >= this.#total) {
      const oldest = this.#all.keys().next().value as T;
      this.remove(oldest);
      evicted.push(oldest);
    }
    same.add(item);
    this.#bySource.set(source, same);
    this.#all.set(item, source);
    return evicted;
  }

  /** Forgets `item` (it authenticated or closed); no-op when unknown. */
  remove(item: T): void {
    const source = this.#all.get(item);
    if (source === undefined) return;
    this.#all.delete(item);
    const same = this.#bySource.get(source);
    same?.delete(item);
    if (same?.size === 0) this.#bySource.delete(source);
  }
}
