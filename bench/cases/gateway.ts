import { randomFillSync } from "node:crypto";
import { Pool } from "undici";
import { getVerified, sendJson, type UploadKind, uploadBody } from "../lib/http.ts";
import type { BenchCase, RunOutcome } from "../lib/measure.ts";
import { runPool } from "../lib/measure.ts";
import type { BenchCluster } from "./cluster.ts";
import { FilePayload, smallFiles } from "./payload.ts";

/**
 * Our figures through the gateway: large files uploaded (PUT raw body, POST multipart) and
 * downloaded (every byte hashed and checked against the upload's hash), and small files uploaded
 * then downloaded `connections` at a time. Every upload is of bytes the cluster has never seen (no
 * de-duplication can shortcut it); a download fetches the file the last upload of its size stored.
 */
export interface GatewayCases {
  large: { mib: number; put: BenchCase; post: BenchCase; get: BenchCase }[];
  smallPut: BenchCase;
  smallGet: BenchCase;
  big?: { put: BenchCase; get: BenchCase };
  close(): Promise<void>;
}

export interface GatewayCaseOptions {
  sizesMib: number[];
  small: number;
  connections: number;
  bigMib?: number;
}

const MiB = 1024 * 1024;
export const SMALL_BYTES = 4096;
/** Distinct salts per case and size, so no two cases ever upload the same 1 MiB chunk. */
const salt = (which: number, mib: number) => which * 100_000 + mib;
const SALT = { put: 1, post: 2, getOwn: 3, big: 4, small: 5, smallOwn: 6 };

interface Stored {
  hash: string;
  bytes: number;
}

export function gatewayCases(cluster: BenchCluster, o: GatewayCaseOptions): GatewayCases {
  const pool = new Pool(cluster.url, { connections: o.connections });
  const payload = new FilePayload();
  const roles = { client: process.pid, ...cluster.roles };
  /** The last file uploaded of each size: what the GET cases download. */
  const latest = new Map<number, Stored>();
  /** The gateway's API key on every request when it has one (bench/cases/cluster.ts, `access`). */
  const auth: Record<string, string> =
    cluster.apiKey === undefined ? {} : { authorization: `Bearer ${cluster.apiKey}` };

  const upload = async (kind: UploadKind, s: number, run: number, bytes: number, hash: string) => {
    const { headers, body } = uploadBody(kind, payload.pieces(s, run, bytes), bytes);
    const method = kind === "put" ? "PUT" : "POST";
    const answer = await sendJson(pool, method, "/v1/files", { ...headers, ...auth }, body);
    if (answer.hash !== hash || answer.size !== bytes) {
      throw new Error(
        `upload of ${bytes} bytes: the gateway answered ${JSON.stringify(answer)}, expected ${hash}`,
      );
    }
    latest.set(bytes, { hash, bytes });
  };

  const uploadCase = (
    kind: UploadKind,
    mib: number,
    which: number,
    key: string,
    label: string,
  ): BenchCase => {
    let hash = "";
    let run = 0;
    return {
      key,
      label,
      group: "cluster",
      roles,
      bytes: mib * MiB,
      async prepare(bytes, r) {
        run = r;
        hash = payload.hash(salt(which, mib), run, bytes);
      },
      run: async (bytes) => void (await upload(kind, salt(which, mib), run, bytes, hash)),
    };
  };

  const downloadCase = (mib: number, key: string, label: string): BenchCase => ({
    key,
    label,
    group: "cluster",
    roles,
    bytes: mib * MiB,
    async prepare(bytes) {
      if (latest.has(bytes)) return;
      // Run on its own (--cases): store a file of this size first, unmeasured.
      await upload("put", salt(SALT.getOwn, mib), 0, bytes, payload.hash(salt(SALT.getOwn, mib), 0, bytes));
    },
    run: async (bytes) => {
      const file = latest.get(bytes)!;
      await getVerified(pool, `/v1/files/${file.hash}`, bytes, file.hash, auth);
      return undefined;
    },
  });

  const large = o.sizesMib.map((mib) => ({
    mib,
    put: uploadCase("put", mib, SALT.put, `gw-put-${mib}`, `PUT ${mib} MiB -> gateway`),
    post: uploadCase("post", mib, SALT.post, `gw-post-${mib}`, `POST ${mib} MiB multipart -> gateway`),
    get: downloadCase(mib, `gw-get-${mib}`, `GET ${mib} MiB <- gateway (verified)`),
  }));

  const base = randomFillSync(Buffer.allocUnsafe(SMALL_BYTES));
  type Files = { bodies: Buffer[]; hashes: string[] };
  /** The 4 KiB files the last small upload stored: what the small GET case downloads. */
  let stored: Files | undefined;
  let next: Files | undefined;
  const putSmall = async (files: Files): Promise<RunOutcome & { ok: Files }> => {
    const latenciesMs: number[] = [];
    const ok: Files = { bodies: [], hashes: [] };
    let errors = 0;
    await runPool(files.bodies.length, o.connections, async (i) => {
      const started = performance.now();
      try {
        const headers = { "content-type": "application/octet-stream", ...auth };
        const answer = await sendJson(pool, "PUT", "/v1/files", headers, files.bodies[i]!);
        if (answer.hash !== files.hashes[i]) throw new Error(`wrong hash ${String(answer.hash)}`);
        ok.bodies.push(files.bodies[i]!);
        ok.hashes.push(files.hashes[i]!);
      } catch (err) {
        if (errors++ === 0) process.stderr.write(`4 KiB PUT failed: ${(err as Error).message}\n`);
      }
      latenciesMs.push(performance.now() - started);
    });
    return { latenciesMs, errors, ok };
  };

  const smallPut: BenchCase = {
    key: "gw-small-put",
    label: `PUT 4 KiB -> gateway, ${o.connections} at a time`,
    group: "cluster",
    roles,
    bytes: o.small * SMALL_BYTES,
    async prepare(_bytes, run) {
      next = smallFiles(base, SALT.small, run, o.small);
    },
    async run() {
      const { latenciesMs, errors, ok } = await putSmall(next!);
      stored = ok;
      return { latenciesMs, errors };
    },
  };

  const smallGet: BenchCase = {
    key: "gw-small-get",
    label: `GET 4 KiB <- gateway, ${o.connections} at a time (verified)`,
    group: "cluster",
    roles,
    bytes: o.small * SMALL_BYTES,
    async prepare() {
      if (stored !== undefined) return;
      // Run on its own (--cases): store the files first, unmeasured.
      const { errors, ok } = await putSmall(smallFiles(base, SALT.smallOwn, 0, o.small));
      if (errors > 0) throw new Error(`${errors} of the 4 KiB files to download could not be stored`);
      stored = ok;
    },
    async run() {
      const files = stored!;
      const latenciesMs: number[] = [];
      let errors = 0;
      await runPool(files.bodies.length, o.connections, async (i) => {
        const started = performance.now();
        try {
          await getVerified(pool, `/v1/files/${files.hashes[i]}`, SMALL_BYTES, files.hashes[i]!, auth);
        } catch (err) {
          if (errors++ === 0) process.stderr.write(`4 KiB GET failed: ${(err as Error).message}\n`);
        }
        latenciesMs.push(performance.now() - started);
      });
      return { latenciesMs, errors };
    },
  };

  const big =
    o.bigMib === undefined
      ? undefined
      : {
          put: {
            ...uploadCase("put", o.bigMib, SALT.big, "big-put", `PUT ${o.bigMib} MiB -> gateway (once)`),
            once: true,
          },
          get: { ...downloadCase(o.bigMib, "big-get", `GET ${o.bigMib} MiB <- gateway (once)`), once: true },
        };

  return { large, smallPut, smallGet, big, close: () => pool.close() };
}
