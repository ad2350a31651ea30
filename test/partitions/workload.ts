/**
 * Concurrent clients: each uploads, downloads, stats and deletes its own files and puts, gets,
 * lists and deletes its own keys, one operation at a time through one gateway, until stopped.
 * Each client's choices come from its own seeded PRNG.
 */
import { Agent } from "undici";
import * as api from "./api.ts";
import type { History } from "./history.ts";
import { Random } from "./random.ts";

export interface WorkloadOptions {
  clients: number;
  urls: readonly string[];
  seed: number;
  /** Pause between one client's operations. */
  thinkMs?: number;
  /** Largest file or value written. */
  maxBytes?: number;
}

export interface Workload {
  /** Stops after the operations in flight; resolves when every client stopped. */
  stop(): Promise<void>;
}

/** Operation weights, out of 100. */
const MIX: readonly [number, Step][] = [
  [20, "upload"],
  [20, "download"],
  [8, "stat"],
  [7, "delete"],
  [17, "put"],
  [15, "get"],
  [7, "list"],
  [6, "kdelete"],
];
type Step = "upload" | "download" | "stat" | "delete" | "put" | "get" | "list" | "kdelete";

function choose(r: Random): Step {
  let x = r.int(0, 99);
  for (const [w, step] of MIX) {
    if (x < w) return step;
    x -= w;
  }
  return "download";
}

/** The names every client's keys start with. */
export const keyPrefix = (client: number) => `c${client}/`;

async function runClient(
  history: History,
  client: number,
  o: Required<WorkloadOptions>,
  stopped: () => boolean,
): Promise<void> {
  const r = new Random(o.seed * 1009 + client);
  const gateway = client % o.urls.length;
  const dispatcher = new Agent({ connections: 4, connectTimeout: 3000 });
  const call: api.Call = { history, client, gateway, url: o.urls[gateway]!, dispatcher };
  const files: string[] = [];
  const keys: string[] = [];
  let made = 0;
  const data = () => {
    const tag = Buffer.from(`c${client}-${made++}-`);
    return Buffer.concat([tag, r.bytes(r.int(1, o.maxBytes))]);
  };
  try {
    while (!stopped()) {
      const step = choose(r);
      if (
        step === "upload" ||
        (files.length === 0 && (step === "download" || step === "stat" || step === "delete"))
      ) {
        const op = await api.upload(call, data());
        files.push(op.target);
        if (files.length > 200) files.shift();
      } else if (step === "download") await api.download(call, r.pick(files));
      else if (step === "stat") await api.stat(call, r.pick(files));
      else if (step === "delete") await api.deleteFile(call, r.pick(files));
      else if (step === "put" || keys.length === 0) {
        const fresh = keys.length < 20 || r.next() < 0.3;
        const key = fresh ? `${keyPrefix(client)}k${made}` : r.pick(keys);
        if (fresh) keys.push(key);
        await api.putKey(call, key, data());
      } else if (step === "get") await api.getKey(call, r.pick(keys));
      else if (step === "list") await api.listKeys(call, keyPrefix(client));
      else await api.deleteKey(call, r.pick(keys));
      if (o.thinkMs > 0) await new Promise((res) => setTimeout(res, o.thinkMs));
    }
  } finally {
    await dispatcher.close().catch(() => {});
  }
}

export function startWorkload(history: History, options: WorkloadOptions): Workload {
  const o: Required<WorkloadOptions> = { thinkMs: 20, maxBytes: 160 * 1024, ...options };
  let stop = false;
  const all = Array.from({ length: o.clients }, (_, i) => runClient(history, i, o, () => stop));
  return {
    async stop() {
      stop = true;
      await Promise.all(all);
    },
  };
}
