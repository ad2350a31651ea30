import type { ObjectSignatures } from "../../credentials/index.ts";
import type { HealCounters } from "../../formats/index.ts";
import type { Logger } from "../../logger.ts";
import type { MembershipView } from "../../registry/index.ts";
import type { TableClient } from "../../tables/index.ts";
import type { NodeApi } from "../../transport/api.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { TokenBucket } from "../rate-limit.ts";
import type { AliveMark, ObjectStore } from "../store/index.ts";
import type { ObjectDigests } from "../sync/index.ts";
import type { TableStore } from "../tables/index.ts";
import { Alarm } from "./alarm.ts";
import { newCounters } from "./counters.ts";
import { GarbageCollector } from "./gc.ts";
import { Identities } from "./identities.ts";
import { Layouts } from "./layout.ts";
import { GraceMembers, type Members, membershipKey } from "./members.ts";
import { buildReferences, referencesBuilt } from "./refs-upgrade.ts";
import { repairRound } from "./repair.ts";
import { scrubRound } from "./scrub.ts";

export interface HealOptions {
  replicas: number;
  repairGraceMs: number;
  repairIntervalMs: number;
  scrubIntervalMs: number;
  gcGraceMs: number;
  tombstoneGraceMs: number;
  /**
   * How long after a membership change (a node joining, leaving the live set, or past its grace
   * leaving placement) the repair round it starts begins (default 1000 ms): one round for a burst.
   */
  membershipDebounceMs?: number;
}

const DEFAULT_DEBOUNCE_MS = 1000;
/** How soon a reference build that could not run or finish (stale view, no quorum) is tried again, at most. */
const REFS_RETRY_MS = 5000;
/** How often membership is looked at for changes (in memory: the view and the grace). */
const WATCH_MS = 250;

export interface HealDeps {
  store: ObjectStore;
  /** The node's tables: garbage collection reads its chunk references there. */
  tables: TableStore;
  /** Writes the references a data folder from before them lacks (refs-upgrade.ts). */
  tableClient: Pick<TableClient, "write">;
  /** The file that says those references were built. */
  refsMarker: string;
  /** Marked after every repair round: the node took part in its cluster. */
  alive: Pick<AliveMark, "mark">;
  nodes: NodeApi;
  view: Pick<MembershipView, "all" | "stale">;
  /** This node's advertised address. */
  self: string;
  /** This node's id: how it knows itself under any other address (identities.ts). */
  selfId: string;
  logger: Logger;
  /** The node's background byte budget, shared with the store's pack compaction. */
  budget: TokenBucket;
  /** When rounds run; the system clock unless a test drives time. */
  clock?: Clock;
  /** Gateways' signatures on manifest objects: repair ranks only signed versions (versions.ts). */
  signatures?: ObjectSignatures | undefined;
  /** Digests of what the store holds (kept up to date by it): what repair compares with peers. */
  digests: ObjectDigests;
}

/**
 * Self-healing, driven by the node itself: a repair and rebalance round every repairIntervalMs,
 * and one membershipDebounceMs after a membership change; a scrub pass every scrubIntervalMs and
 * garbage collection every max(repairIntervalMs, gcGraceMs/2). Each loop runs one round at a time;
 * repair, scrub and the store's pack compaction share one byte budget. Counters are logged after
 * every round.
 */
export class Healer {
  readonly counters: HealCounters = newCounters();
  readonly #deps: HealDeps;
  readonly #options: HealOptions;
  readonly #members: GraceMembers;
  readonly #gc: GarbageCollector;
  readonly #identities: Identities;
  readonly #layouts = new Layouts();
  readonly #alarm: Alarm;
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #refsBuilt = false;
  #refsBuilding: Promise<boolean> | undefined;

  constructor(deps: HealDeps, options: HealOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#members = new GraceMembers(options.repairGraceMs);
    this.#identities = new Identities(deps.selfId, deps.self, deps.nodes);
    this.#alarm = new Alarm(deps.clock ?? systemClock);
    this.#gc = new GarbageCollector({
      ...this.#common(),
      tables: deps.tables,
      gcGraceMs: options.gcGraceMs,
      tombstoneGraceMs: options.tombstoneGraceMs,
    });
  }

  start(): void {
    const o = this.#options;
    this.#loops.push(
      this.#loop("repair", o.repairIntervalMs, () => this.repairOnce(), this.#alarm),
      this.#watch(),
      this.#loop("scrub", o.scrubIntervalMs, () => this.scrubOnce()),
      this.#loop("gc", Math.max(o.repairIntervalMs, Math.floor(o.gcGraceMs / 2)), () => this.gcOnce()),
      this.#refsLoop(),
    );
  }

  /** Stops the loops; a round in progress is cancelled. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#loops);
  }

  async repairOnce(): Promise<void> {
    const seen = this.#membersNow();
    if (this.#deps.view.stale) return;
    // Every node once: an alias (a second address of a node) would count as a second copy.
    const members = await this.#identities.distinct(seen);
    this.counters.underReplicated = await repairRound(
      {
        ...this.#common(),
        replicas: this.#options.replicas,
        bucket: this.#deps.budget,
        skipChunk: (id) => this.#gc.unreferenced(id),
        tombstoneGraceMs: this.#options.tombstoneGraceMs,
        signatures: this.#deps.signatures,
        digests: this.#deps.digests,
        layouts: this.#layouts,
        tables: this.#deps.tables,
      },
      members,
    );
    this.counters.repairRounds++;
    await this.#deps.alive.mark();
  }

  async scrubOnce(): Promise<void> {
    await scrubRound({ ...this.#common(), bucket: this.#deps.budget }, () => this.#membersNow());
    this.counters.scrubRounds++;
  }

  /**
   * Whether every manifest this node held when it started has its chunk references (the marker
   * file): the node's registry record then says "refs", and until every live node's does, no node
   * collects chunks (gc.ts).
   */
  get refsBuilt(): boolean {
    return this.#refsBuilt;
  }

  /** Builds the references of the manifests held (refs-upgrade.ts) unless built; one build at a time. */
  async #ensureRefs(): Promise<boolean> {
    const d = this.#deps;
    if (this.#refsBuilt) return true;
    if (d.view.stale) {
      this.#refsBuilt = await referencesBuilt(d.refsMarker);
      return this.#refsBuilt;
    }
    this.#refsBuilding ??= buildReferences({
      store: d.store,
      tableClient: d.tableClient,
      markerPath: d.refsMarker,
      logger: d.logger,
      signal: this.#abort.signal,
    }).finally(() => {
      this.#refsBuilding = undefined;
    });
    this.#refsBuilt = await this.#refsBuilding;
    return this.#refsBuilt;
  }

  /** At start, and every repair period until it succeeds: the build, so garbage collection need not wait for it. */
  async #refsLoop(): Promise<void> {
    const signal = this.#abort.signal;
    const clock = this.#deps.clock ?? systemClock;
    while (!signal.aborted && !(await this.#ensureRefs().catch(() => false))) {
      await clock.sleep(Math.min(this.#options.repairIntervalMs, REFS_RETRY_MS), signal).catch(() => {});
    }
  }

  async gcOnce(): Promise<void> {
    const d = this.#deps;
    await this.#ensureRefs();
    await this.#gc.round(this.#membersNow(), d.view.stale);
    // Table tombstones past their grace (tombstoneGraceMs, hours by default: far longer than the
    // repair period, so sync carries a deletion to every owner before its tombstone can go).
    await d.tables.purgeTombstones(this.#options.tombstoneGraceMs);
    this.counters.gcRounds++;
  }

  #membersNow(): Members {
    return this.#members.update(this.#deps.view.all());
  }

  #common() {
    const d = this.#deps;
    return {
      store: d.store,
      nodes: d.nodes,
      self: d.self,
      counters: this.counters,
      logger: d.logger,
      signal: this.#abort.signal,
    };
  }

  /**
   * Rings the repair alarm when who placement is computed over, or who is live, changed: a node
   * joined, left the live set, came back, or went past its grace. Membership is in memory (the
   * registry view, the grace), so looking every WATCH_MS costs nothing.
   */
  async #watch(): Promise<void> {
    const signal = this.#abort.signal;
    const clock = this.#deps.clock ?? systemClock;
    const debounce = this.#options.membershipDebounceMs ?? DEFAULT_DEBOUNCE_MS;
    let last = membershipKey(this.#membersNow());
    while (!signal.aborted) {
      await clock.sleep(WATCH_MS, signal).catch(() => {});
      const key = membershipKey(this.#membersNow());
      if (key === last || signal.aborted) continue;
      last = key;
      this.#alarm.ring(debounce);
    }
  }

  async #loop(name: string, intervalMs: number, round: () => Promise<void>, alarm?: Alarm): Promise<void> {
    const signal = this.#abort.signal;
    const clock = this.#deps.clock ?? systemClock;
    // A sleep ends early, without error, when the healer stops (or, with an alarm, when it is due).
    const sleep = (ms: number) => (alarm ? alarm.wait(ms, signal) : clock.sleep(ms, signal)).catch(() => {});
    // Spread the first rounds so a cluster started together does not heal in lockstep.
    await sleep(intervalMs * (0.5 + Math.random() * 0.5));
    while (!signal.aborted) {
      alarm?.clear();
      const started = clock.now();
      try {
        await round();
        this.#deps.logger.info(
          { round: name, ms: Math.round(clock.now() - started), ...this.counters },
          "heal: round done",
        );
      } catch (err) {
        if (signal.aborted) break;
        this.#deps.logger.warn({ round: name, err: (err as Error).message }, "heal: round failed");
      }
      await sleep(intervalMs);
    }
  }
}
