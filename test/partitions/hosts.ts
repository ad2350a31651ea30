/**
 * Hosts for the partition harness: one Linux network namespace per host, each with a veth pair to a
 * bridge that lives in a namespace of its own (the "switch"), addresses in 10.213.0.0/24. Nothing
 * is added to the machine's own namespace: the range exists only inside the run's namespaces, whose
 * names start with a random per-run tag. `removeHosts` kills what still runs in them (by pid) and
 * deletes them; it is safe to call twice and after a half-made set.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { must, sh } from "./sh.ts";

export const SUBNET_PREFIX = "10.213.0";

export interface Host {
  /** The logical name (n1, g1, r1, s1, cl, ...). */
  readonly name: string;
  /** The network namespace. */
  readonly ns: string;
  /** Its address inside the private range. */
  readonly ip: string;
}

export interface Hosts {
  readonly tag: string;
  readonly switchNs: string;
  readonly list: readonly Host[];
  get(name: string): Host;
}

/** A fresh tag: 4 letters and digits, short enough for interface names. */
export function runTag(): string {
  return `p${randomBytes(3).toString("hex").slice(0, 4)}`;
}

/**
 * "" when this machine can make namespaces, veths, nft tables and tc qdiscs; else why not. Installs
 * nftables from Debian when nft is missing and apt-get is there (root only).
 */
export async function hostsUnavailable(): Promise<string> {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root";
  if ((await sh("ip", ["-V"])).code !== 0) return "ip (iproute2) is missing";
  if ((await sh("tc", ["-V"])).code !== 0) return "tc (iproute2) is missing";
  if ((await sh("nft", ["--version"])).code !== 0) {
    const apt = await sh("apt-get", ["install", "-y", "-q", "nftables"], 300_000);
    if (apt.code !== 0) await sh("apt-get", ["update", "-q"], 300_000);
    if (apt.code !== 0) await sh("apt-get", ["install", "-y", "-q", "nftables"], 300_000);
    if ((await sh("nft", ["--version"])).code !== 0) return "nft is missing and could not be installed";
  }
  const probe = `${runTag()}-probe`;
  try {
    const add = await sh("ip", ["netns", "add", probe]);
    if (add.code !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
    const nft = await sh("ip", ["netns", "exec", probe, "nft", "add", "table", "inet", "probe"]);
    if (nft.code !== 0) return `nft in a namespace failed: ${nft.stderr.trim()}`;
    return "";
  } finally {
    await sh("ip", ["netns", "del", probe]);
  }
}

/** The hosts of a run: namespaces `${tag}-${name}`, addresses .2, .3, ... in name order. */
export function hostsLayout(tag: string, names: readonly string[]): Hosts {
  const list: Host[] = names.map((name, i) => ({
    name,
    ns: `${tag}-${name}`,
    ip: `${SUBNET_PREFIX}.${i + 2}`,
  }));
  return {
    tag,
    switchNs: `${tag}-sw`,
    list,
    get(name) {
      const h = list.find((x) => x.name === name);
      if (!h) throw new Error(`no host ${name}`);
      return h;
    },
  };
}

/** Makes the switch and the namespace of every host of the layout. */
export async function createHosts(tag: string, names: readonly string[]): Promise<Hosts> {
  const hosts = hostsLayout(tag, names);
  const { switchNs, list } = hosts;
  await must("ip", ["netns", "add", switchNs]);
  await must("ip", ["-n", switchNs, "link", "add", "br0", "type", "bridge"]);
  await must("ip", ["-n", switchNs, "link", "set", "br0", "up"]);
  await must("ip", ["-n", switchNs, "link", "set", "lo", "up"]);
  for (const [i, h] of list.entries()) {
    const port = `h${i}`;
    await must("ip", ["netns", "add", h.ns]);
    await must("ip", [
      "link",
      "add",
      `${tag}x${i}`,
      "netns",
      h.ns,
      "type",
      "veth",
      "peer",
      "name",
      port,
      "netns",
      switchNs,
    ]);
    await must("ip", ["-n", h.ns, "link", "set", `${tag}x${i}`, "name", "eth0"]);
    await must("ip", ["-n", h.ns, "addr", "add", `${h.ip}/24`, "dev", "eth0"]);
    await must("ip", ["-n", h.ns, "link", "set", "eth0", "up"]);
    await must("ip", ["-n", h.ns, "link", "set", "lo", "up"]);
    await must("ip", ["-n", switchNs, "link", "set", port, "master", "br0"]);
    await must("ip", ["-n", switchNs, "link", "set", port, "up"]);
  }
  return hosts;
}

/** Namespaces whose name starts with `${tag}-`. */
export async function namespacesOf(tag: string): Promise<string[]> {
  const out = await sh("ip", ["netns", "list"]);
  return out.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`${tag}-`));
}

/** Kills every process still in the run's namespaces (by pid), then deletes the namespaces. */
export async function removeHosts(tag: string): Promise<void> {
  const spaces = await namespacesOf(tag);
  for (const ns of spaces) {
    const pids = (await sh("ip", ["netns", "pids", ns])).stdout.split("\n").filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGCONT");
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (const ns of spaces) await sh("ip", ["netns", "del", ns]);
}

/** The same, synchronously: for a process that is exiting. */
export function removeHostsSync(tag: string): void {
  const run = (args: string[]) => {
    try {
      return execFileSync("ip", args, {
        encoding: "utf8",
        timeout: 5000,
        stdio: ["ignore", "pipe", "ignore"],
      });
    } catch {
      return "";
    }
  };
  const spaces = run(["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`${tag}-`));
  for (const ns of spaces) {
    for (const pid of run(["netns", "pids", ns])
      .split("\n")
      .filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (const ns of spaces) run(["netns", "del", ns]);
}
