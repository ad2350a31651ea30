/**
 * Fills a data directory the way a node's store would have written it, without the network: pack
 * files of small objects (chunks of `chunkBytes`, and manifests with a clear format-2 header) in
 * records as pack-log.ts appends them, and chunk files in their fan-out directories. For
 * bench/sync-round.ts: a million objects in seconds, not through a million PUTs.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeManifestHeader } from "../../src/formats/index.ts";
import { REFS_MARKER } from "../../src/node/heal/index.ts";
import { encodeHeader } from "../../src/node/store/pack-record.ts";

export interface FillOptions {
  /** Objects in packs: chunks, then manifests. */
  packedChunks: number;
  manifests: number;
  /** Chunks as files of their own. */
  chunkFiles: number;
  /** Body sizes. */
  chunkBytes: number;
  fileBytes: number;
  /** A pack is sealed at this many bytes, as a node does (64 MiB). */
  packBytes?: number;
  /**
   * Write `<data>/refs-built`, as a node that has run with chunk references does: it then starts
   * without the one-off walk that builds them (src/node/heal/refs-upgrade.ts).
   */
  refsBuilt?: boolean;
}

const PACK_BYTES = 64 * 1024 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Writes the objects under `dataDir`; resolves the number written. */
export async function fillStore(dataDir: string, o: FillOptions): Promise<number> {
  const packs = join(dataDir, "packs");
  await mkdir(packs, { recursive: true });
  let seq = 0;
  let pending: Buffer[] = [];
  let bytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    seq++;
    await writeFile(join(packs, `${String(seq).padStart(8, "0")}.pack`), Buffer.concat(pending));
    pending = [];
    bytes = 0;
  };
  const append = async (kind: "chunk" | "manifest", id: string, body: Buffer) => {
    const checksum = kind === "chunk" ? id : sha256(body);
    pending.push(
      encodeHeader({ op: "put", kind, id, checksum, length: body.length, writtenAt: Date.now() }),
      body,
    );
    bytes += 88 + body.length;
    if (bytes >= (o.packBytes ?? PACK_BYTES)) await flush();
  };
  const stamp = Date.now() - 86_400_000;
  // Each manifest names a chunk of its own (the first `manifests` chunks), as files do.
  const named: string[] = [];
  for (let i = 0; i < o.packedChunks; i++) {
    const body = randomBytes(o.chunkBytes);
    const id = sha256(body);
    if (named.length < o.manifests) named.push(id);
    await append("chunk", id, body);
  }
  for (let i = 0; i < o.manifests; i++) {
    const chunk = named[i % Math.max(1, named.length)] ?? "00".repeat(32);
    const body = Buffer.concat([encodeManifestHeader("manifest", stamp, [chunk]), randomBytes(100)]);
    await append("manifest", randomBytes(32).toString("hex"), body);
  }
  await flush();
  for (let i = 0; i < o.chunkFiles; i++) {
    const body = randomBytes(o.fileBytes);
    const id = sha256(body);
    const dir = join(dataDir, "chunks", id.slice(0, 2), id.slice(2, 4));
    await mkdir(dir, { recursive: true });
    const fh = await open(join(dir, id), "w");
    await fh.write(body);
    await fh.close();
  }
  if (o.refsBuilt) await writeFile(join(dataDir, REFS_MARKER), `${Date.now()}\n`);
  return o.packedChunks + o.manifests + o.chunkFiles;
}
