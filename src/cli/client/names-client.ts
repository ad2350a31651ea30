import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { request } from "undici";
import type { components } from "../../api/index.ts";
import type { ClientSettings } from "../../config/index.ts";
import { DfsError } from "../../errors.ts";
import { failWith, GatewayEndpoint, tap } from "./gateway-client.ts";

type Schemas = components["schemas"];
export type BucketEntry = Schemas["Bucket"];
export type ObjectEntry = Schemas["ObjectEntry"];
export type ObjectListing = Schemas["ObjectListing"];

/** A "bucket/key" (or "bucket", "bucket/prefix") argument of the name commands. */
export function splitName(arg: string): { bucket: string; key: string } {
  const at = arg.indexOf("/");
  return at < 0 ? { bucket: arg, key: "" } : { bucket: arg.slice(0, at), key: arg.slice(at + 1) };
}

/** Buckets and keys through the gateway's /v1/buckets routes (openapi.yaml). */
export class NamesClient {
  readonly #gw: GatewayEndpoint;

  constructor(settings: ClientSettings) {
    this.#gw = new GatewayEndpoint(settings);
  }

  #objectUrl(bucket: string, key: string): string {
    return `${this.#gw.base}/v1/buckets/${encodeURIComponent(bucket)}/objects/${encodeURIComponent(key)}`;
  }

  async #call(method: "GET" | "PUT" | "DELETE", url: string): Promise<unknown> {
    const res = await request(url, { method, headers: this.#gw.headers() });
    if (res.statusCode >= 400) return failWith(res.statusCode, res.body);
    if (res.statusCode === 204) {
      await res.body.dump();
      return undefined;
    }
    return res.body.json();
  }

  async buckets(): Promise<BucketEntry[]> {
    const body = (await this.#call("GET", `${this.#gw.base}/v1/buckets`)) as Schemas["BucketList"];
    return body.buckets;
  }

  async makeBucket(bucket: string): Promise<BucketEntry> {
    return (await this.#call(
      "PUT",
      `${this.#gw.base}/v1/buckets/${encodeURIComponent(bucket)}`,
    )) as BucketEntry;
  }

  async removeBucket(bucket: string): Promise<void> {
    await this.#call("DELETE", `${this.#gw.base}/v1/buckets/${encodeURIComponent(bucket)}`);
  }

  async list(
    bucket: string,
    options: { prefix?: string; delimiter?: string; cursor?: string; limit?: number },
  ): Promise<ObjectListing> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(options)) if (v !== undefined && v !== "") q.set(k, String(v));
    const url = `${this.#gw.base}/v1/buckets/${encodeURIComponent(bucket)}/objects?${q}`;
    return (await this.#call("GET", url)) as ObjectListing;
  }

  /** Streams a local file up to a key; memory stays flat whatever its size. */
  async put(path: string, bucket: string, key: string, onBytes: (n: number) => void): Promise<ObjectEntry> {
    const { size } = await stat(path);
    const body = createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(tap(onBytes));
    const res = await request(this.#objectUrl(bucket, key), {
      method: "PUT",
      headers: this.#gw.headers({
        "content-type": "application/octet-stream",
        "content-length": String(size),
      }),
      body,
    });
    if (res.statusCode >= 400) return failWith(res.statusCode, res.body);
    return (await res.body.json()) as ObjectEntry;
  }

  /**
   * Downloads a key to `out` (through a temp file renamed once verified) or stdout, checking the
   * bytes against the SHA-256 the gateway names (x-dfs-sha256).
   */
  async get(
    bucket: string,
    key: string,
    out: string | undefined,
    onStart: (size: number | undefined) => void,
    onBytes: (n: number) => void,
  ): Promise<number> {
    const res = await request(this.#objectUrl(bucket, key), { method: "GET", headers: this.#gw.headers() });
    if (res.statusCode >= 400) return failWith(res.statusCode, res.body);
    const length = Number(res.headers["content-length"]);
    onStart(Number.isFinite(length) ? length : undefined);
    const want = String(res.headers["x-dfs-sha256"] ?? "");
    const sha = createHash("sha256");
    let size = 0;
    const temp = out === undefined ? undefined : `${out}.dfs-partial`;
    try {
      await pipeline(
        res.body,
        tap((n) => {
          size += n;
          onBytes(n);
        }, sha),
        temp === undefined ? process.stdout : createWriteStream(temp),
      );
      const got = sha.digest("hex");
      if (got !== want) throw new DfsError("DFS_ERR_CORRUPT", `downloaded bytes hash to ${got}, not ${want}`);
      if (temp !== undefined && out !== undefined) await rename(temp, out);
      return size;
    } catch (err) {
      if (temp !== undefined) await rm(temp, { force: true });
      throw err;
    }
  }

  async remove(bucket: string, key: string): Promise<void> {
    await this.#call("DELETE", this.#objectUrl(bucket, key));
  }

  async copy(
    from: { bucket: string; key: string },
    to: { bucket: string; key: string },
  ): Promise<ObjectEntry> {
    const source = encodeURIComponent(`${from.bucket}/${from.key}`);
    return (await this.#call(
      "PUT",
      `${this.#objectUrl(to.bucket, to.key)}?copyFrom=${source}`,
    )) as ObjectEntry;
  }
}
