/** One S3 request as the handlers see it, and the ways they answer. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { XMLParser } from "fast-xml-parser";
import type { Principal } from "../access/types.ts";
import { SentPieces } from "../gateway/download/sent-pieces.ts";
import type { TransferSlots } from "../gateway/guards.ts";
import type { Logger } from "../logger.ts";
import type { NameService } from "../names/types.ts";
import type { Authenticated } from "./auth.ts";
import { type CheckedBody, checkedBody } from "./body.ts";
import { s3Error } from "./errors-xml.ts";

/** What every handler may use, built once per listener. */
export interface S3Deps {
  names: NameService;
  region: string;
  logger: Logger;
  slots: TransferSlots;
  maxUploadBytes: number;
  bodyIdleTimeoutMs: number;
  writeTimeoutMs: number;
  onStall: () => void;
  onGuarded: (reason: "transfers") => void;
}

export interface S3Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly log: Logger;
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  /** The query's parameters, decoded (the first of repeated ones). */
  readonly query: ReadonlyMap<string, string>;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly auth: Authenticated;
  readonly principal: Principal;
  readonly deps: S3Deps;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export function header(call: S3Call, name: string): string | undefined {
  return call.headers.get(name)?.[0];
}

/** A request body; with `deferSha256` a declared SHA-256 is left to the store to check (body.ts). */
export function body(call: S3Call, maxBytes = call.deps.maxUploadBytes, deferSha256 = false): CheckedBody {
  return checkedBody(call.req, call.headers, call.auth, {
    idleTimeoutMs: call.deps.bodyIdleTimeoutMs,
    onStall: call.deps.onStall,
    maxBytes,
    deferSha256,
  });
}

/** A small request body (an XML document) read whole, at most `maxBytes`. */
export async function smallBody(call: S3Call, maxBytes = 2 * 1024 * 1024): Promise<Buffer> {
  const { body: pieces } = body(call, maxBytes);
  const out: Buffer[] = [];
  try {
    for await (const p of pieces) out.push(p);
  } catch (err) {
    if ((err as { details?: { s3?: string } }).details?.s3 === "EntityTooLarge") {
      throw s3Error("MalformedXML", `the XML document is over ${maxBytes} bytes`);
    }
    throw err;
  }
  return Buffer.concat(out);
}

/**
 * A request's XML document (CreateBucketConfiguration, CompleteMultipartUpload, Delete), read
 * whole and parsed; an empty body parses to undefined. Elements named in `arrays` are arrays
 * even when one is given. htmlEntities: Go clients (rclone, restic) write quotes and apostrophes
 * as &#34; and &#39;.
 */
export async function xmlRequest<T>(
  call: S3Call,
  arrays: readonly string[] = [],
  maxBytes?: number,
): Promise<T | undefined> {
  const doc = await smallBody(call, maxBytes);
  if (doc.length === 0) return undefined;
  try {
    return new XMLParser({
      isArray: (name) => arrays.includes(name),
      parseTagValue: false,
      htmlEntities: true,
    }).parse(doc.toString("utf8"), true) as T;
  } catch {
    throw s3Error(
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  }
}

export type Headers = Record<string, string | number>;

export function sendXml(call: S3Call, status: number, xml: string, headers: Headers = {}): void {
  const bytes = Buffer.from(xml, "utf8");
  call.res.writeHead(status, {
    ...headers,
    "content-type": "application/xml",
    "content-length": bytes.length,
  });
  call.res.end(call.method === "HEAD" ? undefined : bytes);
}

export function sendEmpty(call: S3Call, status: number, headers: Headers = {}): void {
  call.res.writeHead(status, { ...headers, "content-length": headers["content-length"] ?? 0 });
  call.res.end();
}

/**
 * Streams `pieces` with backpressure; a client that takes nothing for writeTimeoutMs is cut. A
 * failure after the status line was sent destroys the response: never a short body that looks whole.
 */
export async function sendStream(
  call: S3Call,
  status: number,
  headers: Headers,
  pieces: AsyncIterable<Buffer>,
): Promise<void> {
  const res = call.res;
  res.writeHead(status, headers);
  // Each piece is a decipher output of its own: freed once written, not left to the GC (sent-pieces.ts).
  const sent = new SentPieces(undefined, res);
  for await (const piece of pieces) {
    if (res.destroyed) throw s3Error("RequestTimeout", "the client went away", "DFS_ERR_CANCELLED");
    sent.freeWritten();
    const flowing = res.write(piece);
    sent.add(piece);
    if (!flowing) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          res.destroy();
          reject(s3Error("RequestTimeout", "the client stopped reading", "DFS_ERR_CANCELLED"));
        }, call.deps.writeTimeoutMs);
        const done = () => {
          clearTimeout(timer);
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    }
  }
  res.end();
}
