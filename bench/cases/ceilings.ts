import { createHash, randomFillSync } from "node:crypto";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { Pool } from "undici";
import { getVerified, sendJson, type UploadKind, uploadBody } from "../lib/http.ts";
import type { BenchCase, RunOutcome } from "../lib/measure.ts";
import { runPool } from "../lib/measure.ts";
import { startChild } from "../lib/procs.ts";
import { chainCase, startChain } from "./baselines.ts";
import { SMALL_BYTES } from "./gateway.ts";
import { FilePayload, smallFiles } from "./payload.ts";

/**
 * The ceilings of the cluster's figures, as long-lived children warmed like the cluster, with the
 * same sizes and the same client (this process, undici, the same bodies and verification):
 * - a raw 3-hop node:net chain, every hop writing 1 MiB files with fsync, `inflight` connections;
 * - Fastify + @fastify/multipart uploads streamed to nowhere (multipart POST and raw PUT);
 * - Fastify sending a file from the page cache;
 * - Fastify answering 4 KiB GETs and 4 KiB PUTs (with a JSON answer), `connections` at a time.
 */
export interface CeilingCases {
  large: { mib: number; chain: BenchCase; post: BenchCase; put: BenchCase; file: BenchCase }[];
  smallPut: BenchCase;
  smallGet: BenchCase;
  close(): Promise<void>;
}

export interface CeilingOptions {
  sizesMib: number[];
  small: number;
  connections: number;
  /** Connections of the raw chain (the gateway's chunks in flight). */
  inflight: number;
  nodeFlags: string[];
}

const MiB = 1024 * 1024;
const salt = (which: number, mib: number) => 1_000_000 + which * 100_000 + mib;

export async function startCeilings(root: string, o: CeilingOptions): Promise<CeilingCases> {
  const dir = join(root, "fastify-files");
  await mkdir(dir, { recursive: true });
  const server = await startChild({
    name: "fastify",
    args: ["bench/baselines/fastify-server.ts", "--dir", dir],
    nodeFlags: o.nodeFlags,
    isReady: (line) => line.msg === "listening",
  });
  const chain = await startChain(root, "ceiling-hop", o.nodeFlags);
  const pool = new Pool(`http://${server.address}`, { connections: o.connections });
  const payload = new FilePayload();
  const roles = { client: process.pid, fastify: server.pid };

  const upload = (kind: UploadKind, mib: number): BenchCase => {
    let run = 0;
    return {
      key: `fastify-${kind}-${mib}`,
      label: `Fastify ${kind === "put" ? "PUT" : "multipart POST"} ${mib} MiB -> discard`,
      group: "cluster",
      roles,
      bytes: mib * MiB,
      async prepare(_bytes, r) {
        run = r;
      },
      async run(bytes) {
        const { headers, body } = uploadBody(
          kind,
          payload.pieces(salt(kind === "put" ? 1 : 2, mib), run, bytes),
          bytes,
        );
        const answer = await sendJson(pool, kind === "put" ? "PUT" : "POST", "/upload", headers, body);
        if (answer.bytes !== bytes) throw new Error(`Fastify read ${String(answer.bytes)} of ${bytes} bytes`);
        return undefined;
      },
    };
  };

  const file = (mib: number): BenchCase => {
    let hash: string | undefined;
    const name = `file-${mib}`;
    return {
      key: `fastify-file-${mib}`,
      label: `Fastify GET cached ${mib} MiB file (verified)`,
      group: "cluster",
      roles,
      bytes: mib * MiB,
      async prepare(bytes) {
        if (hash !== undefined) return;
        // Written once, by this process: it stays in the page cache, as a just-uploaded chunk does.
        const fh = await open(join(dir, name), "w");
        try {
          for (const piece of payload.pieces(salt(3, mib), 0, bytes)) await fh.write(piece);
        } finally {
          await fh.close();
        }
        hash = payload.hash(salt(3, mib), 0, bytes);
      },
      run: async (bytes) => void (await getVerified(pool, `/files/${name}`, bytes, hash!)),
    };
  };

  const large = o.sizesMib.map((mib) => ({
    mib,
    chain: chainCase(chain, {
      key: `chain3-${mib}`,
      label: `3-hop chain ${mib} MiB, 1 MiB files + fsync`,
      group: "cluster",
      inflight: o.inflight,
      bytes: mib * MiB,
    }),
    post: upload("post", mib),
    put: upload("put", mib),
    file: file(mib),
  }));

  const base = randomFillSync(Buffer.allocUnsafe(SMALL_BYTES));
  let next: Buffer[] = [];
  const requests = async (task: (i: number) => Promise<void>): Promise<RunOutcome> => {
    const latenciesMs: number[] = [];
    let errors = 0;
    await runPool(o.small, o.connections, async (i) => {
      const started = performance.now();
      try {
        await task(i);
      } catch (err) {
        if (errors++ === 0) process.stderr.write(`Fastify 4 KiB request failed: ${(err as Error).message}\n`);
      }
      latenciesMs.push(performance.now() - started);
    });
    return { latenciesMs, errors };
  };
  const smallPut: BenchCase = {
    key: "fastify-small-put",
    label: `Fastify PUT 4 KiB -> JSON answer, ${o.connections} at a time`,
    group: "cluster",
    roles,
    bytes: o.small * SMALL_BYTES,
    async prepare(_bytes, run) {
      next = smallFiles(base, salt(4, 0), run, o.small).bodies;
    },
    run: () =>
      requests(async (i) => {
        const headers = { "content-type": "application/octet-stream" };
        const answer = await sendJson(pool, "PUT", "/upload", headers, next[i]!);
        if (answer.bytes !== SMALL_BYTES) throw new Error(`Fastify read ${String(answer.bytes)} bytes`);
      }),
  };
  const smallHash = createHash("sha256").update(Buffer.alloc(SMALL_BYTES, 0x5a)).digest("hex");
  const smallGet: BenchCase = {
    key: "fastify-small-get",
    label: `Fastify GET 4 KiB, ${o.connections} at a time (verified)`,
    group: "cluster",
    roles,
    bytes: o.small * SMALL_BYTES,
    run: () => requests(() => getVerified(pool, "/small", SMALL_BYTES, smallHash)),
  };

  return { large, smallPut, smallGet, close: () => pool.close() };
}
