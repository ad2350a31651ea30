import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { sendAll, socketGet, socketPut } from "../baselines/client.ts";
import type { BenchCase } from "../lib/measure.ts";
import { shares } from "../lib/measure.ts";
import { PIECE_BYTES } from "../lib/options.ts";
import { type Child, startChild } from "../lib/procs.ts";

/**
 * The plain-node:net baselines, as long-lived child processes: a socket-pair server, and a 3-hop
 * chain whose every hop writes 1 MiB files with fsync. The volume is split over `inflight`
 * connections, as our cases keep `inflight` requests going.
 */
export interface BaselineCases {
  socketPut: BenchCase;
  socketGet: BenchCase;
  hop1Files: BenchCase;
  chain3Files: BenchCase;
}

const isListening = (line: Record<string, unknown>) => line.msg === "listening";

export async function startBaselines(
  root: string,
  inflight: number,
  nodeFlags: string[],
): Promise<BaselineCases> {
  const piece = Buffer.alloc(PIECE_BYTES, 0xa5);
  const start = (name: string, args: string[]): Promise<Child> =>
    startChild({ name, args: [...args, "--piece", String(PIECE_BYTES)], nodeFlags, isReady: isListening });
  const dirs = { A: join(root, "hop-a"), B: join(root, "hop-b"), C: join(root, "hop-c") };
  await Promise.all(Object.values(dirs).map((d) => mkdir(d, { recursive: true })));

  const server = await start("socket-pair-server", ["bench/baselines/socket-pair-server.ts"]);
  const hop = "bench/baselines/chain-hop.ts";
  const c = await start("hop-C", [hop, "--dir", dirs.C]);
  const b = await start("hop-B", [hop, "--dir", dirs.B, "--next", c.address]);
  const a = await start("hop-A", [hop, "--dir", dirs.A, "--next", b.address]);

  const split = (bytes: number, send: (n: number) => Promise<void>) =>
    Promise.all(shares(bytes / PIECE_BYTES, inflight).map((n) => send(n * PIECE_BYTES))).then(() => {});
  const clear = async (...which: string[]) => {
    for (const d of which) {
      await rm(d, { recursive: true });
      await mkdir(d);
    }
  };
  const client = process.pid;

  return {
    socketPut: {
      key: "socket-put",
      label: "socket pair PUT (discard, no disk)",
      roles: { client, server: server.pid },
      run: (bytes) => split(bytes, (n) => socketPut(server.address, n, piece)),
    },
    socketGet: {
      key: "socket-get",
      label: "socket pair GET (reused buffer)",
      roles: { client, server: server.pid },
      run: (bytes) => split(bytes, (n) => socketGet(server.address, n)),
    },
    hop1Files: {
      key: "hop1-files",
      label: "1 hop, 1 MiB files + fsync",
      roles: { client, C: c.pid },
      run: (bytes) => split(bytes, (n) => sendAll(c.address, n, piece)),
      reset: () => clear(dirs.C),
    },
    chain3Files: {
      key: "chain3-files",
      label: "3-hop chain, 1 MiB files + fsync",
      roles: { client, A: a.pid, B: b.pid, C: c.pid },
      run: (bytes) => split(bytes, (n) => sendAll(a.address, n, piece)),
      reset: () => clear(dirs.A, dirs.B, dirs.C),
    },
  };
}
