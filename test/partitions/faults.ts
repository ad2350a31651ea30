/**
 * The faults a schedule injects, each with its healing: nft drop rules in a host's namespace (a
 * table per fault, deleted to heal), signals to a process (by pid), a filled disk, a squeezed link.
 */
import { open, rm, statfs, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Cluster, NODE_ZONES, SMALL_DISK_BYTES, SMALL_DISK_NODE } from "./cluster.ts";
import type { Host } from "./hosts.ts";
import { inNs, must, sh } from "./sh.ts";

const MiB = 1024 * 1024;
/** What the shrunk tmpfs leaves free for the filler: more than the writes of the moment. */
const FILL_MARGIN_BYTES = 8 * MiB;

export const FAULT_KINDS = [
  "partition-node",
  "node-cut-from-redis",
  "split-brain",
  "gateway-cut-from-zone",
  "one-way-loss",
  "stop-node",
  "stop-master",
  "kill-restart-node",
  "disk-full",
  "bandwidth",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A fault as scheduled: what, on which node or zone. */
export interface FaultSpec {
  kind: FaultKind;
  /** The node it hits (node faults), or the zone cut from g1 (gateway-cut-from-zone). */
  target: string;
}

export type Heal = () => Promise<void>;

let tables = 0;

/** Drops traffic between `host` and `peers` (both ways, or only what `host` sends). */
async function drop(host: Host, peers: readonly Host[], oneWay = false): Promise<Heal> {
  const table = `fault${tables++}`;
  const set = peers.map((p) => p.ip).join(", ");
  const rules = [
    `table inet ${table} {`,
    "  chain out { type filter hook output priority 0; policy accept;",
    `    ip daddr { ${set} } drop`,
    "  }",
    ...(oneWay
      ? []
      : [
          "  chain in { type filter hook input priority 0; policy accept;",
          `    ip saddr { ${set} } drop`,
          "  }",
        ]),
    "}",
  ].join("\n");
  const file = `/tmp/${host.ns}-${table}.nft`;
  await writeFile(file, rules);
  try {
    await inNs(host.ns, "nft", ["-f", file]);
  } finally {
    await rm(file, { force: true });
  }
  return async () => {
    await inNs(host.ns, "nft", ["delete", "table", "inet", table]);
  };
}

const hostsOf = (c: Cluster, names: readonly string[]) => names.map((n) => c.hosts.get(n));
const others = (c: Cluster, host: Host) => c.hosts.list.filter((h) => h !== host);
const service = (c: Cluster, name: string) => {
  const s = [...c.nodes, ...c.gateways].find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

async function masterHost(c: Cluster): Promise<Host> {
  const ip = await c.redis.master();
  const h = c.hosts.list.find((x) => x.ip === ip);
  if (!h) throw new Error(`no host has the master's address ${ip}`);
  return h;
}

/**
 * Makes the small disk full at once: the tmpfs is shrunk to what it holds plus a few MiB (a
 * remount, no memory written), then that rest filled with one file. Healing removes the file and
 * gives the tmpfs its size back. (Writing gigabytes of filler took 6 s of the 7 s fault.)
 */
async function fillDisk(dir: string): Promise<Heal> {
  for (let attempt = 1; ; attempt++) {
    const { bsize, blocks, bavail } = await statfs(dir);
    const held = (blocks - bavail) * bsize;
    const size = Math.ceil((held + FILL_MARGIN_BYTES) / MiB) * MiB;
    // Writes go on meanwhile: a size below what the tmpfs holds by then is refused; ask again.
    const shrunk = await sh("mount", ["-o", `remount,size=${size}`, dir]);
    if (shrunk.code === 0) break;
    if (attempt === 3) throw new Error(`could not shrink ${dir}: ${shrunk.stderr}`);
  }
  const file = join(dir, "filler.bin");
  const handle = await open(file, "w");
  const block = Buffer.alloc(MiB);
  try {
    for (let i = 0; i < FILL_MARGIN_BYTES / MiB + 64; i++) await handle.write(block);
  } catch {
    // ENOSPC: full, as wanted
  } finally {
    await handle.close();
  }
  return async () => {
    await unlink(file);
    await must("mount", ["-o", `remount,size=${SMALL_DISK_BYTES}`, dir]);
  };
}

/** Injects a fault; resolves with its healing once it is in place. */
export async function inject(c: Cluster, f: FaultSpec): Promise<Heal> {
  switch (f.kind) {
    case "partition-node": {
      const h = c.hosts.get(f.target);
      return drop(h, others(c, h));
    }
    case "node-cut-from-redis":
      return drop(c.hosts.get(f.target), hostsOf(c, ["r1", "r2", "r3", "s1", "s2", "s3"]));
    case "split-brain": {
      const m = await masterHost(c);
      const replicas = c.redis.data.map((d) => d.host);
      return drop(
        m,
        others(c, m).filter((h) => !replicas.includes(h)),
      );
    }
    case "gateway-cut-from-zone": {
      const zoneNodes = Object.entries(NODE_ZONES)
        .filter(([, z]) => z === f.target)
        .map(([n]) => n);
      return drop(c.hosts.get("g1"), hostsOf(c, zoneNodes));
    }
    case "one-way-loss": {
      const h = c.hosts.get(f.target);
      return drop(h, others(c, h), true);
    }
    case "stop-node": {
      const s = service(c, f.target);
      s.proc.child.kill("SIGSTOP");
      return async () => void s.proc.child.kill("SIGCONT");
    }
    case "stop-master": {
      const ip = await c.redis.master();
      const m = c.redis.data.find((d) => d.host.ip === ip);
      if (!m) throw new Error(`no Redis process at ${ip}`);
      m.signal("SIGSTOP");
      return async () => m.signal("SIGCONT");
    }
    case "kill-restart-node": {
      const s = service(c, f.target);
      await s.proc.stop("SIGKILL");
      return () => s.restart();
    }
    case "disk-full":
      return fillDisk(c.smallDisk);
    case "bandwidth": {
      const h = c.hosts.get(f.target);
      await inNs(h.ns, "tc", [
        "qdisc",
        "add",
        "dev",
        "eth0",
        "root",
        "tbf",
        "rate",
        "2mbit",
        "burst",
        "32kbit",
        "latency",
        "400ms",
      ]);
      return async () =>
        void (await sh("ip", ["netns", "exec", h.ns, "tc", "qdisc", "del", "dev", "eth0", "root"]));
    }
  }
}

/** The node the disk-full fault always hits. */
export const DISK_FULL_TARGET = SMALL_DISK_NODE;
