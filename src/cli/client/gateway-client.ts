import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { request } from "undici";
import type { FileCreated } from "../../api/index.ts";
import type { ClientSettings } from "../../config/index.ts";
import { DfsError, type ErrorCode, isErrorCode } from "../../errors.ts";

type Json = Record<string, unknown>;

/** Counts bytes as they pass, for progress bars, and hashes them when given a hash; the bytes are not touched. */
export function tap(onBytes: (n: number) => void, hash?: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(piece: Buffer, _enc, done) {
      hash?.update(piece);
      onBytes(piece.length);
      done(null, piece);
    },
  });
}

/** A gateway's base URL and the headers every request to it carries (the API key, when given). */
export class GatewayEndpoint {
  readonly base: string;
  readonly #apiKey: string | undefined;

  constructor(settings: ClientSettings) {
    this.base = settings.gateway.replace(/\/+$/, "");
    this.#apiKey = settings.apiKey;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#apiKey ? { authorization: `Bearer ${this.#apiKey}`, ...extra } : extra;
  }
}

/** Turns a problem+json answer into a DfsError carrying the gateway's code. */
export async function failWith(
  statusCode: number,
  body: { json(): Promise<unknown>; text(): Promise<string> },
): Promise<never> {
  let code: ErrorCode = "DFS_ERR_INTERNAL";
  let detail = `HTTP ${statusCode}`;
  try {
    const problem = (await body.json()) as Json;
    if (typeof problem.code === "string" && isErrorCode(problem.code)) code = problem.code;
    detail = String(problem.detail ?? problem.title ?? detail);
  } catch {
    // Not JSON: the status alone has to do.
  }
  if (statusCode === 404 && code === "DFS_ERR_INTERNAL") code = "DFS_ERR_NOT_FOUND";
  if (statusCode === 401) detail += " (give one with --api-key or DFS_API_KEY)";
  throw new DfsError(code, detail, { details: { status: statusCode } });
}

/** The gateway's HTTP API as the dfs client commands use it (see openapi.yaml). */
export class GatewayClient {
  readonly #gw: GatewayEndpoint;

  constructor(settings: ClientSettings) {
    this.#gw = new GatewayEndpoint(settings);
  }

  /** Turns a problem+json answer into a DfsError carrying the gateway's code. */
  #fail(statusCode: number, body: { json(): Promise<unknown>; text(): Promise<string> }): Promise<never> {
    return failWith(statusCode, body);
  }

  async #json(
    method: "GET" | "DELETE" | "POST" | "PUT",
    path: string,
    body?: Json,
  ): Promise<Json | undefined> {
    const res = await request(`${this.#gw.base}${path}`, {
      method,
      headers: this.#gw.headers(body === undefined ? {} : { "content-type": "application/json" }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.statusCode >= 400) return this.#fail(res.statusCode, res.body);
    if (res.statusCode === 204) {
      await res.body.dump();
      return undefined;
    }
    return (await res.body.json()) as Json;
  }

  /** Streams a file up as the raw request body; memory stays flat whatever its size. */
  async upload(
    path: string,
    onBytes: (n: number) => void = () => {},
  ): Promise<FileCreated & { created: boolean }> {
    const { size } = await stat(path);
    const name = encodeURIComponent(basename(path));
    const body = createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(tap(onBytes));
    const res = await request(`${this.#gw.base}/v1/files?name=${name}`, {
      method: "PUT",
      headers: this.#gw.headers({
        "content-type": "application/octet-stream",
        "content-length": String(size),
      }),
      body,
    });
    if (res.statusCode >= 400) return this.#fail(res.statusCode, res.body);
    return { ...((await res.body.json()) as FileCreated), created: res.statusCode === 201 };
  }

  /**
   * Downloads to `out` through a temp file, checking the SHA-256 against the hash as the bytes
   * arrive; only a verified file is renamed into place. Without `out` the bytes go to stdout and
   * a mismatch is reported at the end (it cannot be taken back).
   */
  async download(
    hash: string,
    out: string | undefined,
    onStart: (size: number | undefined) => void,
    onBytes: (n: number) => void,
  ): Promise<number> {
    const res = await request(`${this.#gw.base}/v1/files/${hash}`, {
      method: "GET",
      headers: this.#gw.headers(),
    });
    if (res.statusCode >= 400) return this.#fail(res.statusCode, res.body);
    const length = Number(res.headers["content-length"]);
    onStart(Number.isFinite(length) ? length : undefined);
    const sha = createHash("sha256");
    let size = 0;
    const verify = new Transform({
      transform(piece: Buffer, _enc, done) {
        sha.update(piece);
        size += piece.length;
        onBytes(piece.length);
        done(null, piece);
      },
    });
    const temp = out === undefined ? undefined : `${out}.dfs-partial`;
    try {
      await pipeline(res.body, verify, temp === undefined ? process.stdout : createWriteStream(temp));
      const got = sha.digest("hex");
      if (got !== hash) throw new DfsError("DFS_ERR_CORRUPT", `downloaded bytes hash to ${got}, not ${hash}`);
      if (temp !== undefined && out !== undefined) await rename(temp, out);
      return size;
    } catch (err) {
      if (temp !== undefined) await rm(temp, { force: true });
      throw err;
    }
  }

  meta(hash: string): Promise<Json | undefined> {
    return this.#json("GET", `/v1/files/${hash}/meta`);
  }

  async remove(hash: string): Promise<void> {
    await this.#json("DELETE", `/v1/files/${hash}`);
  }

  nodes(): Promise<Json | undefined> {
    return this.#json("GET", "/v1/nodes");
  }

  /** Access keys (admin): list, create (the answer holds the secret), delete, grant. */
  listKeys(): Promise<Json | undefined> {
    return this.#json("GET", "/v1/keys");
  }

  createKey(name: string): Promise<Json | undefined> {
    return this.#json("POST", "/v1/keys", { name });
  }

  async deleteKey(id: string): Promise<void> {
    await this.#json("DELETE", `/v1/keys/${encodeURIComponent(id)}`);
  }

  grantKey(id: string, grant: { bucket: string; read: boolean; write: boolean; owner: boolean }) {
    return this.#json("PUT", `/v1/keys/${encodeURIComponent(id)}/grants`, grant);
  }

  async ready(): Promise<{ ready: boolean; body: Json }> {
    const res = await request(`${this.#gw.base}/readyz`, { method: "GET", headers: this.#gw.headers() });
    return { ready: res.statusCode === 200, body: (await res.body.json()) as Json };
  }
}
