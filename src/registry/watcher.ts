import { Redis } from "ioredis";
import type { HostPort } from "../config/index.ts";
import type { Logger } from "../logger.ts";
import { throttledWarn } from "./log.ts";
import { currentMaster, type MasterAnswer, type SentinelAuth, sentinelLogin } from "./sentinel-query.ts";

const CHANNEL = "+switch-master";
/** How soon to ask the Sentinels again when their answer would undo a switch without proof. */
const RECHECK_MS = 200;
/** After this long without a confirmation, the Sentinels' answer wins over a switch message. */
const TRUST_SWITCH_MS = 10_000;

/**
 * Keeps clients off a hung or partitioned master. Without it, a client stays connected to a frozen
 * master (the TCP connection stays open), and when that master resumes it acknowledges writes for
 * about 10 s that Sentinel then wipes (measured: ~600 lost writes per client). ioredis's own
 * `failoverDetector` can end a client for good, so it stays off and this takes its place.
 *
 * It knows the current master (highest config-epoch among Sentinels; updated by `+switch-master`,
 * to which it subscribes on every Sentinel) and enforces it at two moments:
 * - on a switch: every tracked client connected ("ready" or "connect") elsewhere gets its socket
 *   destroyed; ioredis reconnects through Sentinel and resends unanswered commands;
 * - on every client's "connect" (TCP up, handshake not answered yet, so before it can be ready):
 *   a client that asked a Sentinel lagging behind the switch, and reached the old master after the
 *   last `+switch-master` went by, would otherwise sit there until that master resumes, then take
 *   writes on it. A mismatch destroys the socket and asks the Sentinels again, so a stale view
 *   here costs one extra reconnect, never a loop against the right master.
 * Clients still resolving ("connecting") are left alone: they ask Sentinel anyway. Sentinels
 * announce IPs here (`announce-hostnames no`); with names the worst case is one extra reconnect.
 * ioredis writes its handshake (CLIENT SETNAME, SETINFO) before it emits "connect", so a stale
 * master may see those two commands from a client sent away; nothing else reaches it.
 *
 * A Sentinel answer never takes the watcher back to an older config-epoch than one it took, nor
 * undoes a switch message with the same epoch unless every Sentinel answered: right after a
 * failover only the leader knows the new epoch, and if it is slow to answer, the laggards' old
 * configuration would otherwise send the watcher (and so every client) back to the old master.
 * Such an answer is asked for again every RECHECK_MS; after TRUST_SWITCH_MS of doubt the
 * Sentinels win anyway (a switch message can be stale too: those of a double failover may arrive
 * out of order; and a rebuilt Sentinel set starts its epochs again).
 */
export class SwitchWatcher {
  readonly #clients = new Map<Redis, () => void>();
  readonly #subs: Redis[];
  readonly #sentinels: readonly HostPort[];
  readonly #masterName: string;
  readonly #logger: Logger;
  readonly #auth: SentinelAuth | undefined;
  #master: string | undefined;
  /** Config-epoch of the last Sentinel answer taken. */
  #epoch: number | undefined;
  /** Since when #master is in doubt: moved by a switch no answer confirmed, or contradicted by a laggard's answer. */
  #doubtSince: number | undefined;
  /** Bumped by every switch message: a Sentinel answer asked for before it is discarded. */
  #generation = 0;
  #refreshing = false;
  #refreshAgain = false;
  #recheck: NodeJS.Timeout | undefined;
  #doubtLogged = false;
  #closed = false;

  constructor(sentinels: readonly HostPort[], masterName: string, logger: Logger, auth?: SentinelAuth) {
    this.#sentinels = sentinels;
    this.#auth = auth;
    this.#masterName = masterName;
    this.#logger = logger;
    const warn = throttledWarn(logger, "registry: sentinel watcher connection failing");
    this.#subs = sentinels.map(({ host, port }) => {
      const sub = new Redis({
        host,
        port,
        ...sentinelLogin(auth),
        connectionName: "dfs-registry-watch",
        retryStrategy: (times) => Math.min(100 * times, 1000),
        maxRetriesPerRequest: null,
        connectTimeout: 2000,
        keepAlive: 5000,
        disconnectTimeout: 200, // see redis.ts
      });
      sub.on("error", warn);
      sub.on("message", (channel: string, message: string) => {
        if (channel === CHANNEL) this.#onSwitch(message);
      });
      sub.subscribe(CHANNEL).catch(warn);
      return sub;
    });
    this.#refresh();
  }

  track(client: Redis): void {
    const onConnect = () => this.#check(client, "connect");
    client.on("connect", onConnect);
    this.#clients.set(client, onConnect);
  }

  untrack(client: Redis): void {
    const onConnect = this.#clients.get(client);
    if (onConnect) client.off("connect", onConnect);
    this.#clients.delete(client);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#recheck);
    for (const sub of this.#subs) sub.disconnect();
  }

  #onSwitch(message: string): void {
    // "<master-name> <old-ip> <old-port> <new-ip> <new-port>"
    const [name, , , newIp, newPort] = message.split(" ");
    if (name !== this.#masterName || newIp === undefined || newPort === undefined) return;
    const master = `${newIp}:${newPort}`;
    if (master !== this.#master) this.#doubtSince ??= performance.now();
    this.#master = master;
    this.#generation++;
    let moved = 0;
    for (const client of this.#clients.keys()) if (this.#check(client, "switch")) moved++;
    this.#logger.info({ master: this.#master, moved }, "registry: sentinel switched master");
    // Messages of a double failover can arrive out of order: confirm by epoch.
    this.#refresh();
  }

  /** Destroys the client's socket when it is connected to anything but the known master. */
  #check(client: Redis, why: "switch" | "connect"): boolean {
    const target = this.#master;
    if (target === undefined || (client.status !== "ready" && client.status !== "connect")) return false;
    const stream = client.stream;
    if (!stream || stream.destroyed) return false;
    const remote = `${(stream.remoteAddress ?? "").replace(/^::ffff:/, "")}:${stream.remotePort}`;
    if (remote === target) return false;
    stream.destroy();
    if (why === "connect") {
      this.#logger.warn({ remote, master: target }, "registry: client reached a stale master; reconnecting");
      this.#refresh();
    }
    return true;
  }

  #refresh(): void {
    if (this.#closed) return;
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = true;
    const generation = this.#generation;
    currentMaster(this.#sentinels, this.#masterName, this.#auth)
      .then((answer) => {
        if (generation !== this.#generation) this.#refreshAgain = true;
        else if (answer !== undefined && this.#believes(answer)) this.#take(answer);
        else if (answer !== undefined || this.#doubtSince !== undefined) {
          this.#doubtSince ??= performance.now();
          this.#askAgainSoon(answer);
        }
      })
      .finally(() => {
        this.#refreshing = false;
        if (this.#refreshAgain) {
          this.#refreshAgain = false;
          this.#refresh();
        }
      });
  }

  /** Whether a Sentinel answer may replace what the watcher knows (see the class comment). */
  #believes(answer: MasterAnswer): boolean {
    if (answer.addr === this.#master || this.#epoch === undefined || answer.epoch > this.#epoch) return true;
    if (answer.epoch === this.#epoch && (this.#doubtSince === undefined || answer.complete)) return true;
    return this.#doubtSince !== undefined && performance.now() - this.#doubtSince > TRUST_SWITCH_MS;
  }

  #take(answer: MasterAnswer): void {
    const was = this.#master;
    this.#master = answer.addr;
    this.#epoch = answer.epoch;
    this.#doubtSince = undefined;
    this.#doubtLogged = false;
    if (was === undefined || was === answer.addr) return;
    let moved = 0;
    for (const client of this.#clients.keys()) if (this.#check(client, "switch")) moved++;
    this.#logger.info(
      { master: answer.addr, was, epoch: answer.epoch, moved },
      "registry: sentinels name another master",
    );
  }

  #askAgainSoon(answer: MasterAnswer | undefined): void {
    if (this.#closed || this.#recheck !== undefined) return;
    if (answer === undefined && performance.now() - this.#doubtSince! > TRUST_SWITCH_MS) return;
    if (!this.#doubtLogged) {
      this.#doubtLogged = true;
      this.#logger.warn(
        { master: this.#master, sentinels: answer?.addr, epoch: answer?.epoch },
        "registry: sentinels do not confirm the master yet; asking again",
      );
    }
    this.#recheck = setTimeout(() => {
      this.#recheck = undefined;
      this.#refresh();
    }, RECHECK_MS).unref();
  }
}

/** One watcher per process and Sentinel set, shared by every registry connection (ref-counted). */
const shared = new Map<string, { watcher: SwitchWatcher; refs: number }>();

export function acquireWatcher(
  sentinels: readonly HostPort[],
  masterName: string,
  logger: Logger,
  auth?: SentinelAuth,
): { watcher: SwitchWatcher; release: () => void } {
  const key = `${masterName}|${sentinels
    .map((s) => `${s.host}:${s.port}`)
    .sort()
    .join(",")}`;
  let entry = shared.get(key);
  if (!entry) {
    entry = { watcher: new SwitchWatcher(sentinels, masterName, logger, auth), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    watcher: held.watcher,
    release() {
      if (released) return;
      released = true;
      if (--held.refs === 0) {
        shared.delete(key);
        held.watcher.close();
      }
    },
  };
}
