/**
 * Ceiling: the HTTP layer alone. Fastify and @fastify/multipart set up as the gateway sets them up
 * (body parsers removed, every body a stream, the same multipart limits), with nothing of ours behind:
 *   POST /upload      multipart, the file part read to its end and dropped -> {"bytes": n}
 *   PUT  /upload      raw body read to its end and dropped -> {"bytes": n} (also the 4 KiB upload)
 *   GET  /files/:name a file of --dir, streamed from disk (the bench writes it first: page cache)
 *   GET  /small       one reused 4 KiB buffer
 * No logger: the bare framework. Run: node bench/baselines/fastify-server.ts --dir DIR
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import multipart from "@fastify/multipart";
import Fastify from "fastify";
import { announce, exitOnSignal } from "./wire.ts";

const { values } = parseArgs({ options: { dir: { type: "string" } } });
if (!values.dir) throw new Error("--dir is required");
const dir = values.dir;
const small = Buffer.alloc(4096, 0x5a);

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let bytes = 0;
  for await (const piece of stream) bytes += (piece as Buffer).length;
  return bytes;
}

const app = Fastify({ requestTimeout: 0, connectionTimeout: 0, keepAliveTimeout: 65_000 });
app.register(async (scope) => {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  await scope.register(multipart, {
    throwFileSizeLimit: true,
    limits: {
      fileSize: 64 * 1024 ** 3,
      files: 1,
      fields: 16,
      fieldSize: 64 * 1024,
      parts: 32,
      headerPairs: 100,
    },
  });
  scope.post("/upload", async (request) => {
    const part = await request.file();
    if (part === undefined) throw new Error("no file part");
    return { bytes: await drain(part.file) };
  });
  scope.put("/upload", async (request) => ({
    bytes: await drain((request.body as Readable) ?? request.raw),
  }));
});
app.get<{ Params: { name: string } }>("/files/:name", async (request, reply) => {
  const path = join(dir, basename(request.params.name));
  const { size } = await stat(path);
  return reply
    .header("content-type", "application/octet-stream")
    .header("content-length", String(size))
    .send(createReadStream(path));
});
app.get("/small", async (_request, reply) =>
  reply.header("content-type", "application/octet-stream").send(small),
);

await app.listen({ host: "127.0.0.1", port: 0 });
const a = app.server.address();
if (a === null || typeof a === "string") throw new Error("no TCP address");
announce(`127.0.0.1:${a.port}`);
exitOnSignal(() => void app.close());
