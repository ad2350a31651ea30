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

function startPlain(name: string, args: string[], nodeFlags: string[]): Promise<Child> {
  return startChild({
    name,
    args: [...args, "--piece", String(PIECE_BYTES)],
    nodeFlags,
    isReady: isListening,
  });
}

/** Three chain-hop processes, C then B then A (each needs the next one's address), each with its dir. */
export interface Chain {
  hops: { A: Child; B: Child; C: Child };
  dirs: { A: string; B: string; C: string };
}

export async function startChain(root: string, prefix: string, nodeFlags: string[]): Promise<Chain> {
  const dirs = { A: join(root, `${prefix}-a`), B: join(root, `${prefix}-b`), C: join(root, `${prefix}-c`) };
  await Promise.all(Object.values(dirs).map((d) => mkdir(d, { recursive: true })));
  const hop = "bench/baselines/chain-hop.ts";
  const C = await startPlain(`${prefix}-C`, [hop, "--dir", dirs.C], nodeFlags);
  const B = await startPlain(`${prefix}-B`, [hop, "--dir", dirs.B, "--next", C.address], nodeFlags);
  const A = await startPlain(`${prefix}-A`, [hop, "--dir", dirs.A, "--next", B.address], nodeFlags);
  return { hops: { A, B, C }, dirs };
}

async function clear(...dirs: string[]): Promise<void> {
  for (const d of dirs) {
    await rm(d, { recursive: true });
    await mkdir(d);
  }
}

/** Sends `bytes` over `inflight` connections in whole 1 MiB pieces, one reused buffer. */
function split(bytes: number, inflight: number, send: (n: number) => Promise<void>): Promise<void> {
  return Promise.all(shares(bytes / PIECE_BYTES, inflight).map((n) => send(n * PIECE_BYTES))).then(() => {});
}

const piece = Buffer.alloc(PIECE_BYTES, 0xa5);

/** The 3-hop chain case: client -> A -> B -> C, every hop writing 1 MiB files with fsync. */
export function chainCase(
  chain: Chain,
  o: { key: string; label: string; group: BenchCase["group"]; inflight: number; bytes?: number },
): BenchCase {
  const { A, B, C } = chain.hops;
  return {
    key: o.key,
    label: o.label,
    group: o.group,
    bytes: o.bytes,
    roles: { client: process.pid, A: A.pid, B: B.pid, C: C.pid },
    run: async (bytes) => void (await split(bytes, o.inflight, (n) => sendAll(A.address, n, piece))),
    reset: () => clear(chain.dirs.A, chain.dirs.B, chain.dirs.C),
  };
}

export async function startBaselines(
  root: string,
  inflight: number,
  nodeFlags: string[],
): Promise<BaselineCases> {
  const server = await startPlain("socket-pair-server", ["bench/baselines/socket-pair-server.ts"], nodeFlags);
  const chain = await startChain(root, "hop", nodeFlags);
  const { C } = chain.hops;
  const client = process.pid;
  const group = "node";

  return {
    socketPut: {
      key: "socket-put",
      label: "socket pair PUT (discard, no disk)",
      group,
      roles: { client, server: server.pid },
      run: async (bytes) => void (await split(bytes, inflight, (n) => socketPut(server.address, n, piece))),
    },
    socketGet: {
      key: "socket-get",
      label: "socket pair GET (reused buffer)",
      group,
      roles: { client, server: server.pid },
      run: async (bytes) => void (await split(bytes, inflight, (n) => socketGet(server.address, n))),
    },
    hop1Files: {
      key: "hop1-files",
      label: "1 hop, 1 MiB files + fsync",
      group,
      roles: { client, C: C.pid },
      run: async (bytes) => void (await split(bytes, inflight, (n) => sendAll(C.address, n, piece))),
      reset: () => clear(chain.dirs.C),
    },
    chain3Files: chainCase(chain, {
      key: "chain3-files",
      label: "3-hop chain, 1 MiB files + fsync",
      group,
      inflight,
    }),
  };
}
