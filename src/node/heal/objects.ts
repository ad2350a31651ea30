import { createHash } from "node:crypto";
import type { ObjectSignatures } from "../../credentials/index.ts";
import {
  encodeManifestHeader,
  HEADER_FIXED_BYTES,
  type ManifestHeader,
  type ObjectKind,
  parseManifestHeader,
} from "../../formats/index.ts";
import type { NodeApi } from "../../transport/api.ts";
import type { ObjectStore } from "../store/index.ts";
import { type Copy, copyOf, copyOfWhole, HEAD_BYTES, TAIL_BYTES } from "./versions.ts";

/** Objects up to this size are read whole to learn their version (one read, digest checked too). */
const WHOLE_BYTES = 64 * 1024;
/** A peer's object up to this size is fetched whole after its size is known. */
const REMOTE_WHOLE_BYTES = 8 * 1024;

/** A whole local object in memory (chunks and manifests are bounded by maxObjectBytes). */
export async function readLocal(store: ObjectStore, kind: ObjectKind, id: string): Promise<Buffer> {
  const { body } = await store.createReader(kind, id);
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** The clear header of a local manifest, or undefined when it is not a readable format-2 one. */
export async function localHeader(store: ObjectStore, id: string): Promise<ManifestHeader | undefined> {
  const read = async (length: number): Promise<Buffer> => {
    const size = (await store.size("manifest", id)) ?? 0;
    const { body } = await store.createReader("manifest", id, { offset: 0, length: Math.min(length, size) });
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    return Buffer.concat(parts);
  };
  return headerVia(read);
}

async function readRange(store: ObjectStore, id: string, offset: number, length: number): Promise<Buffer> {
  const { body } = await store.createReader("manifest", id, { offset, length });
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/**
 * A local manifest object's copy (header and trailer), or undefined when it is not a readable
 * format-2 one. Without `signatures` only the header is read.
 */
export async function localCopy(
  store: ObjectStore,
  id: string,
  signatures: ObjectSignatures | undefined,
): Promise<Copy | undefined> {
  const size = (await store.size("manifest", id)) ?? 0;
  if (signatures === undefined) {
    const head = await readRange(store, id, 0, Math.min(size, HEAD_BYTES));
    const parsed = parseManifestHeader(head);
    const full =
      parsed && "need" in parsed ? await readRange(store, id, 0, Math.min(size, parsed.need)) : head;
    return copyOf(id, full, full, size, undefined);
  }
  if (size <= WHOLE_BYTES) return copyOfWhole(id, await readRange(store, id, 0, size), signatures);
  let head = await readRange(store, id, 0, Math.min(size, HEAD_BYTES));
  const parsed = parseManifestHeader(head);
  if (parsed && "need" in parsed) head = await readRange(store, id, 0, Math.min(size, parsed.need));
  const tailBytes = Math.min(size, TAIL_BYTES);
  return copyOf(id, head, await readRange(store, id, size - tailBytes, tailBytes), size, signatures);
}

/** A manifest object's copy on a peer: its header and trailer travel, the rest only when small. */
export async function remoteCopy(
  nodes: NodeApi,
  addr: string,
  id: string,
  signatures: ObjectSignatures | undefined,
): Promise<Copy | undefined> {
  if (signatures === undefined) {
    const header = await remoteHeader(nodes, addr, id);
    return (
      header &&
      copyOf(
        id,
        encodeManifestHeader(header.type, header.stamp, header.chunkIds),
        Buffer.alloc(0),
        0,
        undefined,
      )
    );
  }
  const first = await nodes.get(addr, id, { kind: "manifest", length: HEAD_BYTES });
  let head = await collect(first.body);
  const size = first.size;
  const read = (offset: number, length: number) =>
    nodes.getBuffer(addr, id, { kind: "manifest", offset, length });
  if (size <= REMOTE_WHOLE_BYTES) {
    const whole = await read(0, size);
    return copyOf(id, whole, whole, size, signatures);
  }
  const parsed = parseManifestHeader(head);
  if (parsed && "need" in parsed) head = await read(0, Math.min(size, parsed.need));
  const tailBytes = Math.min(size, TAIL_BYTES);
  return copyOf(id, head, await read(size - tailBytes, tailBytes), size, signatures);
}

async function collect(body: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
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
