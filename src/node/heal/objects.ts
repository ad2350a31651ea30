import { createHash } from "node:crypto";
import {
  HEADER_FIXED_BYTES,
  type ManifestHeader,
  type ObjectKind,
  parseManifestHeader,
} from "../../formats/index.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { ChunkStore } from "../store/index.ts";

/** A whole local object in memory (chunks and manifests are bounded by maxObjectBytes). */
export async function readLocal(store: ChunkStore, kind: ObjectKind, id: string): Promise<Buffer> {
  const { body } = await store.createReader(kind, id);
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** The clear header of a local manifest, or undefined when it is not a readable format-2 one. */
export async function localHeader(store: ChunkStore, id: string): Promise<ManifestHeader | undefined> {
  const read = async (length: number): Promise<Buffer> => {
    const size = (await store.size("manifest", id)) ?? 0;
    const { body } = await store.createReader("manifest", id, 0, Math.min(length, size));
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    return Buffer.concat(parts);
  };
  return headerVia(read);
}

/** The clear header of a manifest on a peer: only the header's bytes travel. */
export function remoteHeader(nodes: NodeApi, addr: string, id: string): Promise<ManifestHeader | undefined> {
  return headerVia((length) => nodes.getBuffer(addr, id, { kind: "manifest", length }));
}

async function headerVia(read: (length: number) => Promise<Buffer>): Promise<ManifestHeader | undefined> {
  let parsed = parseManifestHeader(await read(HEADER_FIXED_BYTES));
  if (parsed && "need" in parsed) parsed = parseManifestHeader(await read(parsed.need));
  return parsed && !("need" in parsed) ? parsed : undefined;
}

/** The checksum a manifest is put with: SHA-256 of its bytes. */
export function checksumOf(kind: ObjectKind, data: Buffer): string | undefined {
  return kind === "manifest" ? createHash("sha256").update(data).digest("hex") : undefined;
}

/** True when `data` is a good copy of the chunk `id` (its SHA-256 is its id). */
export function isChunk(id: string, data: Buffer): boolean {
  return createHash("sha256").update(data).digest("hex") === id;
}
