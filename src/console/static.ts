import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyReply, FastifyRequest } from "fastify";
import { DfsError } from "../errors.ts";

/** Where `npm run build:ui` puts the console's files (dist/ui/, beside the compiled gateway). */
export const UI_DIR = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline script, no
 * eval), requests to its own origin, previews of keys (images, PDF) from its own origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

interface StaticFile {
  readonly type: string;
  readonly etag: string;
  readonly raw: Buffer;
  readonly gzip: Buffer | undefined;
  readonly br: Buffer | undefined;
}

const optional = (path: string) => (existsSync(path) ? readFileSync(path) : undefined);

/** The built files, read once into memory (they are small), with their precompressed copies. */
export function loadStatic(dir = UI_DIR): Map<string, StaticFile> | undefined {
  if (!existsSync(join(dir, "index.html"))) return undefined;
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const raw = readFileSync(join(dir, name));
    const etag = `"${createHash("sha256").update(raw).digest("base64url").slice(0, 22)}"`;
    files.set(name, {
      type,
      etag,
      raw,
      gzip: optional(join(dir, `${name}.gz`)),
      br: optional(join(dir, `${name}.br`)),
    });
  }
  return files;
}

/** The headers every console response carries. */
export function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONSOLE_CSP)
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin")
    .header("cross-origin-resource-policy", "same-origin");
}

/** Sends `name` (brotli or gzip when the client takes them), 304 for a matching If-None-Match. */
export function sendStatic(
  files: Map<string, StaticFile> | undefined,
  name: string,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (files === undefined)
    throw new DfsError("DFS_ERR_UNAVAILABLE", "the web console is not built: run npm run build:ui");
  const file = files.get(name);
  if (file === undefined) throw new DfsError("DFS_ERR_NOT_FOUND", `no console file ${name}`);
  securityHeaders(reply)
    .header("content-type", file.type)
    .header("etag", file.etag)
    .header("vary", "accept-encoding")
    .header("cache-control", "no-cache");
  if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
  const accepts = String(request.headers["accept-encoding"] ?? "");
  if (file.br !== undefined && /\bbr\b/.test(accepts))
    return reply.header("content-encoding", "br").send(file.br);
  if (file.gzip !== undefined && /\bgzip\b/.test(accepts))
    return reply.header("content-encoding", "gzip").send(file.gzip);
  return reply.send(file.raw);
}
