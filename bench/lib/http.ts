import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";

/**
 * The bench's HTTP client side, the same for our gateway and for the Fastify ceilings, so both get
 * the same client work: bodies streamed from reused buffers, downloads hashed as they arrive.
 */

const BOUNDARY = "dfs-bench-boundary-7d1f0c2a9e";

export type UploadKind = "put" | "post";

/** A streamed upload body: raw (PUT, as `curl -T`) or one multipart file field (POST, as `curl -F`). */
export function uploadBody(
  kind: UploadKind,
  pieces: Iterable<Buffer>,
  bytes: number,
): { headers: Record<string, string>; body: Readable } {
  if (kind === "put") {
    return {
      headers: { "content-type": "application/octet-stream", "content-length": String(bytes) },
      body: Readable.from(pieces, { objectMode: false }),
    };
  }
  const head = Buffer.from(
    `--${BOUNDARY}\r\ncontent-disposition: form-data; name="file"; filename="bench.bin"\r\n` +
      "content-type: application/octet-stream\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  function* all(): Generator<Buffer> {
    yield head;
    yield* pieces;
    yield tail;
  }
  return {
    headers: {
      "content-type": `multipart/form-data; boundary=${BOUNDARY}`,
      "content-length": String(head.length + bytes + tail.length),
    },
    body: Readable.from(all(), { objectMode: false }),
  };
}

/** Sends a request with a body and returns the JSON answer; a status other than 200/201 throws. */
export async function sendJson(
  d: Dispatcher,
  method: "PUT" | "POST",
  path: string,
  headers: Record<string, string>,
  body: Buffer | Readable,
): Promise<Record<string, unknown>> {
  const res = await d.request({ method, path, headers, body });
  const text = await res.body.text();
  if (res.statusCode !== 200 && res.statusCode !== 201) {
    throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

/** Downloads `path`, hashing every byte as it arrives; throws unless the length and sha256 match. */
export async function getVerified(
  d: Dispatcher,
  path: string,
  bytes: number,
  sha256: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const res = await d.request({ method: "GET", path, headers });
  if (res.statusCode !== 200) {
    throw new Error(`GET ${path}: ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
  }
  const h = createHash("sha256");
  let got = 0;
  for await (const piece of res.body) {
    got += (piece as Buffer).length;
    h.update(piece as Buffer);
  }
  const hash = h.digest("hex");
  if (got !== bytes || hash !== sha256) {
    throw new Error(`GET ${path}: ${got} bytes with sha256 ${hash}, expected ${bytes} with ${sha256}`);
  }
}
