import { createHash, randomFillSync } from "node:crypto";
import { Readable } from "node:stream";
import { Pool, request } from "undici";
import { EMPTY_SHA256 } from "../../src/s3/index.ts";
import { getVerified } from "../lib/http.ts";
import { type BenchCase, type RunOutcome, runPool } from "../lib/measure.ts";
import { type S3Credentials, SigV4Signer } from "../lib/sigv4.ts";
import type { BenchCluster } from "./cluster.ts";
import { SMALL_BYTES } from "./gateway.ts";
import { FilePayload, smallFiles } from "./payload.ts";

/**
 * Our figures through the gateway's S3 listener, each the twin of a /v1 case: PutObject of large
 * files (UNSIGNED-PAYLOAD, streamed) and GetObject of the last one (every byte hashed and checked),
 * and 4 KiB PutObjects with the body's SHA-256 signed, `connections` at a time. The same uploads
 * to /v1 keys (PUT /v1/buckets/{bucket}/objects/{key}: an MD5 ETag and a key record, as S3 makes)
 * run on the same cluster, taking turns: what S3's own layer costs is the difference. Every request is
 * SigV4-signed in this process with an access key granted on the bench's bucket, and checked by
 * the gateway (it runs with an API key, so it admits no unsigned S3 request).
 */
export interface S3Cases {
  /** `keyPut`: the same upload through /v1 to a key (MD5 ETag, key record): the S3 PUT's twin. */
  /** `putSigned`: the PutObject with its body's SHA-256 signed, as aws-cli sends over plain HTTP. */
  large: { mib: number; put: BenchCase; putSigned: BenchCase; get: BenchCase; keyPut: BenchCase }[];
  smallPut: BenchCase;
  /** 4 KiB uploads through /v1 to keys: the S3 4 KiB PUT's twin. */
  keySmallPut: BenchCase;
  close(): Promise<void>;
}

export interface S3CaseOptions {
  sizesMib: number[];
  small: number;
  connections: number;
}

const MiB = 1024 * 1024;
export const S3_BUCKET = "bench-s3";
/** Salts apart from bench/cases/gateway.ts's, so no S3 upload repeats a /v1 upload's chunk. */
const SALT = { put: 7, getOwn: 8, small: 9, keyPut: 10, keySmall: 11, putSigned: 12 };
const salt = (which: number, mib: number) => which * 100_000 + mib;

/** A /v1 call with the gateway's API key; throws unless it answers one of `ok`. */
export async function v1(
  cluster: BenchCluster,
  method: "GET" | "PUT" | "POST",
  path: string,
  json: unknown,
  ok: number[],
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { authorization: `Bearer ${cluster.apiKey}` };
  if (json !== undefined) headers["content-type"] = "application/json";
  const body = json === undefined ? undefined : JSON.stringify(json);
  const res = await request(`${cluster.url}${path}`, { method, headers, body });
  const text = await res.body.text();
  if (!ok.includes(res.statusCode))
    throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/**
 * Creates the buckets with the API key, then an access key (POST /v1/keys) granted read and write
 * on each: the S3 cases sign with it, as an S3 client of a production gateway would.
 */
export async function s3Access(cluster: BenchCluster, buckets: readonly string[]): Promise<S3Credentials> {
  if (cluster.apiKey === undefined || cluster.s3Url === undefined) {
    throw new Error("the S3 cases need a cluster started with access: true");
  }
  for (const b of buckets) await v1(cluster, "PUT", `/v1/buckets/${b}`, undefined, [201]);
  const key = await v1(cluster, "POST", "/v1/keys", { name: "bench-s3" }, [201]);
  for (const b of buckets) {
    await v1(
      cluster,
      "PUT",
      `/v1/keys/${String(key.id)}/grants`,
      { bucket: b, read: true, write: true },
      [200],
    );
  }
  const credentials = { accessKeyId: String(key.id), secret: String(key.secret), region: "us-east-1" };
  await refusesForgery(cluster.s3Url, credentials, buckets[0]!);
  return credentials;
}

/**
 * The S3 figures must include SigV4's checks: a request signed with a wrong secret must get 403
 * SignatureDoesNotMatch (a gateway without keys would admit it), else the bench stops.
 */
async function refusesForgery(url: string, c: S3Credentials, bucket: string): Promise<void> {
  const forged = new SigV4Signer({ ...c, secret: `${c.secret}x` }, url);
  const signed = forged.sign({
    method: "GET",
    path: `/${bucket}`,
    query: [["list-type", "2"]],
    payloadHash: EMPTY_SHA256,
  });
  const res = await request(`${url}${signed.path}`, { headers: signed.headers });
  const text = await res.body.text();
  if (res.statusCode !== 403 || !text.includes("SignatureDoesNotMatch")) {
    throw new Error(
      `a forged S3 signature got ${res.statusCode}, not 403 SignatureDoesNotMatch: ${text.slice(0, 200)}`,
    );
  }
}

export function s3Cases(cluster: BenchCluster, credentials: S3Credentials, o: S3CaseOptions): S3Cases {
  const url = cluster.s3Url!;
  const pool = new Pool(url, { connections: o.connections });
  const signer = new SigV4Signer(credentials, url);
  const payload = new FilePayload();
  const roles = { client: process.pid, ...cluster.roles };
  /** The last object stored of each size: what the GET cases download. */
  const latest = new Map<number, { key: string; sha256: string }>();

  /** PutObject; throws unless S3 answers 200 with the body's MD5 as its ETag. */
  const put = async (
    key: string,
    body: Buffer | Readable,
    bytes: number,
    payloadHash: string,
    md5: string,
  ) => {
    const signed = signer.sign({
      method: "PUT",
      path: `/${S3_BUCKET}/${key}`,
      payloadHash,
      headers: { "content-type": "application/octet-stream", "content-length": String(bytes) },
    });
    const res = await pool.request({ method: "PUT", path: signed.path, headers: signed.headers, body });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`S3 PUT ${key}: ${res.statusCode} ${text.slice(0, 300)}`);
    if (res.headers.etag !== `"${md5}"`) {
      throw new Error(`S3 PUT ${key}: ETag ${String(res.headers.etag)}, expected "${md5}"`);
    }
  };
  const v1Pool = new Pool(cluster.url, { connections: o.connections });
  /** PUT to a /v1 key; throws unless it answers 201 with the body's MD5 as its ETag. */
  const putKey = async (key: string, body: Buffer | Readable, bytes: number, md5: string) => {
    const res = await v1Pool.request({
      method: "PUT",
      path: `/v1/buckets/${S3_BUCKET}/objects/${key}`,
      headers: {
        authorization: `Bearer ${cluster.apiKey}`,
        "content-type": "application/octet-stream",
        "content-length": String(bytes),
      },
      body,
    });
    const text = await res.body.text();
    if (res.statusCode !== 201) throw new Error(`/v1 PUT ${key}: ${res.statusCode} ${text.slice(0, 300)}`);
    if (res.headers.etag !== `"${md5}"`) {
      throw new Error(`/v1 PUT ${key}: ETag ${String(res.headers.etag)}, expected "${md5}"`);
    }
  };
  const putLarge = async (
    which: number,
    mib: number,
    run: number,
    bytes: number,
    md5: string,
    sha256: string,
  ) => {
    const key = `large-${which}-${mib}-${run}`;
    const body = Readable.from(payload.pieces(salt(which, mib), run, bytes), { objectMode: false });
    await put(key, body, bytes, which === SALT.putSigned ? sha256 : "UNSIGNED-PAYLOAD", md5);
    latest.set(bytes, { key, sha256 });
  };

  /** A PutObject case of `mib` MiB; `which` (a SALT) picks its payloads and whether it signs them. */
  const putCase = (which: number, key: string, label: string, mib: number): BenchCase => {
    let run = 0;
    let digests: string[] = [];
    return {
      key,
      label,
      group: "cluster",
      roles,
      bytes: mib * MiB,
      async prepare(bytes, r) {
        run = r;
        digests = payload.digests(salt(which, mib), run, bytes, ["md5", "sha256"]);
      },
      run: async (bytes) => void (await putLarge(which, mib, run, bytes, digests[0]!, digests[1]!)),
    };
  };

  const large = o.sizesMib.map((mib) => {
    const put = putCase(SALT.put, `s3-put-${mib}`, `S3 PutObject ${mib} MiB -> gateway`, mib);
    const putSigned = putCase(
      SALT.putSigned,
      `s3-put-signed-${mib}`,
      `S3 PutObject ${mib} MiB, SHA-256 signed -> gateway`,
      mib,
    );
    const getCase: BenchCase = {
      key: `s3-get-${mib}`,
      label: `S3 GetObject ${mib} MiB <- gateway (verified)`,
      group: "cluster",
      roles,
      bytes: mib * MiB,
      async prepare(bytes) {
        if (latest.has(bytes)) return;
        // Run on its own (--cases): store an object of this size first, unmeasured.
        const [md5, sha256] = payload.digests(salt(SALT.getOwn, mib), 0, bytes, ["md5", "sha256"]);
        await putLarge(SALT.getOwn, mib, 0, bytes, md5!, sha256!);
      },
      async run(bytes) {
        const object = latest.get(bytes)!;
        const signed = signer.sign({
          method: "GET",
          path: `/${S3_BUCKET}/${object.key}`,
          payloadHash: EMPTY_SHA256,
        });
        await getVerified(pool, signed.path, bytes, object.sha256, signed.headers);
        return undefined;
      },
    };
    let keyRun = 0;
    let keyMd5 = "";
    const keyPut: BenchCase = {
      key: `key-put-${mib}`,
      label: `PUT ${mib} MiB -> gateway /v1 key`,
      group: "cluster",
      roles,
      bytes: mib * MiB,
      async prepare(bytes, r) {
        keyRun = r;
        [keyMd5] = payload.digests(salt(SALT.keyPut, mib), keyRun, bytes, ["md5"]) as [string];
      },
      async run(bytes) {
        const pieces = payload.pieces(salt(SALT.keyPut, mib), keyRun, bytes);
        const key = `key-large-${mib}-${keyRun}`;
        await putKey(key, Readable.from(pieces, { objectMode: false }), bytes, keyMd5);
        return undefined;
      },
    };
    return { mib, put, putSigned, get: getCase, keyPut };
  });

  const base = randomFillSync(Buffer.allocUnsafe(SMALL_BYTES));
  /** `o.small` distinct 4 KiB uploads, `connections` at a time, each checked by `one`. */
  const smallCase = (
    key: string,
    label: string,
    which: number,
    one: (name: string, body: Buffer, sha256: string, md5: string) => Promise<void>,
  ): BenchCase => {
    let next: { bodies: Buffer[]; hashes: string[]; md5s: string[]; run: number } | undefined;
    return {
      key,
      label,
      group: "cluster",
      roles,
      bytes: o.small * SMALL_BYTES,
      async prepare(_bytes, run) {
        const files = smallFiles(base, which, run, o.small);
        next = { ...files, md5s: files.bodies.map((b) => createHash("md5").update(b).digest("hex")), run };
      },
      async run(): Promise<RunOutcome> {
        const files = next!;
        const latenciesMs: number[] = [];
        let errors = 0;
        await runPool(files.bodies.length, o.connections, async (i) => {
          const started = performance.now();
          try {
            await one(`small-${which}-${files.run}-${i}`, files.bodies[i]!, files.hashes[i]!, files.md5s[i]!);
          } catch (err) {
            if (errors++ === 0) process.stderr.write(`${label} failed: ${(err as Error).message}\n`);
          }
          latenciesMs.push(performance.now() - started);
        });
        return { latenciesMs, errors };
      },
    };
  };
  // The signature covers the body's SHA-256 (x-amz-content-sha256), which the gateway checks.
  const smallPut = smallCase(
    "s3-small-put",
    `S3 PutObject 4 KiB (signed body) -> gateway, ${o.connections} at a time`,
    SALT.small,
    (name, body, sha256, md5) => put(name, body, SMALL_BYTES, sha256, md5),
  );
  const keySmallPut = smallCase(
    "key-small-put",
    `PUT 4 KiB -> gateway /v1 key, ${o.connections} at a time`,
    SALT.keySmall,
    (name, body, _sha256, md5) => putKey(name, body, SMALL_BYTES, md5),
  );

  return {
    large,
    smallPut,
    keySmallPut,
    close: async () => {
      await pool.close();
      await v1Pool.close();
    },
  };
}
