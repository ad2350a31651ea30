import type { FileCreated } from "../../api/index.ts";
import { type Manifest, type OpenedManifest, sha256Hex } from "../../crypto/index.ts";
import { askInTurn } from "../../tables/index.ts";
import type { GatewayContext } from "../context.ts";
import { readManifestObject, readQuorum } from "../download/reader.ts";
import { hedging, timer } from "../hedge.ts";
import { signSealed } from "../signing.ts";
import type { Ingested } from "./ingest.ts";
import { replicate } from "./replicate.ts";

/** The answer to an upload: 201 when this upload made the file, 200 when it already existed. */
export interface Committed {
  created: boolean;
  body: FileCreated;
}

/**
 * Makes an ingested file visible by writing its sealed manifest, last, to W..R nodes. If the file
 * already exists (the same bytes were uploaded before), its manifest is kept, name and all: the
 * first upload names a file, and downloads carry that name. The answer to a later upload carries
 * its own name and type, never those of the first: one uploader must not learn another's. Two uploads racing past that check both write a manifest; either one
 * describes the same chunks, so readers get the same bytes whichever copy they find.
 * Before the manifest is written, every chunk gets a reference from this manifest version
 * (chunk_refs, holds.ts); the upload's holds are released either way.
 */
export async function commit(
  ctx: GatewayContext,
  file: Ingested,
  meta: { name: string; contentType: string },
  signal: AbortSignal,
): Promise<Committed> {
  try {
    return await commitHeld(ctx, file, meta, signal);
  } finally {
    file.holds.release();
  }
}

async function commitHeld(
  ctx: GatewayContext,
  file: Ingested,
  meta: { name: string; contentType: string },
  signal: AbortSignal,
): Promise<Committed> {
  const id = ctx.cipher.manifestId(file.hash);
  const existing = await findExisting(ctx, file.hash, id, signal);
  if (existing?.type === "manifest") {
    const own = { ...existing.manifest, name: meta.name, contentType: meta.contentType };
    return { created: false, body: describe(own, file.replicas) };
  }
  const manifest: Manifest = {
    version: 1,
    hash: file.hash,
    size: file.size,
    name: meta.name,
    contentType: meta.contentType,
    chunkBytes: ctx.config.chunkBytes,
    // After a delete the new manifest must be newer than the tombstone, whatever the clocks say.
    createdAt: Math.max(Date.now(), (existing?.stamp ?? 0) + 1),
    chunks: file.chunks,
  };
  if (file.inline) manifest.inline = file.inline.toString("base64");
  const sealed = signSealed(ctx.identity, id, ctx.cipher.sealManifest(manifest));
  const checksum = sha256Hex(sealed);
  // References first: a manifest that becomes visible never names a chunk nothing holds. If the
  // manifest then fails, the references stay (a leak, not a loss: it may be on a node already).
  await file.holds.reference(
    file.chunks.map((c) => c.id),
    checksum,
    id,
  );
  const stored = await replicate(ctx, id, sealed, { kind: "manifest", checksum, signal });
  return { created: true, body: describe(manifest, Math.min(file.replicas, stored.length)) };
}

function describe(m: Manifest, replicas: number): FileCreated {
  return {
    hash: m.hash,
    size: m.size,
    name: m.name,
    contentType: m.contentType,
    chunks: m.chunks.length,
    replicas,
  };
}

/**
 * The manifest (or the tombstone of a delete) already stored for this hash, if any. A cheap
 * parallel `has` of a read quorum of owners first: for a new file (the usual case) that is one
 * round trip, and a file written to W owners has a copy on at least one of them.
 */
async function findExisting(
  ctx: GatewayContext,
  hash: string,
  id: string,
  signal: AbortSignal,
): Promise<OpenedManifest | undefined> {
  const owners = ctx.placement.order(id).slice(0, ctx.config.replicas);
  const has = (addr: string) => {
    const answered = timer(ctx.hedges.small);
    return ctx.nodes.has(addr, [id], "manifest").then(
      ([held]) => {
        answered();
        return held === true;
      },
      () => undefined,
    );
  };
  const { answers } = await askInTurn(owners, readQuorum(ctx), has, {
    ...hedging(ctx, "small"),
    enough: (held) => held.includes(true),
  });
  const found = answers.includes(true);
  if (!found) return undefined;
  try {
    return await readManifestObject(ctx, hash, signal);
  } catch (err) {
    if (signal.aborted) throw err;
    // No copy reads back: write ours; the quorum write decides.
    return undefined;
  }
}
