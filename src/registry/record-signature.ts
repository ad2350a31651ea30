import { type Credential, type Identity, signAs, type TrustAnchor } from "../credentials/index.ts";
import type { Logger } from "../logger.ts";
import { decodeRecord } from "./keys.ts";
import type { NodeRecord } from "./types.ts";

/**
 * Signed registry records. A node's entry carries its credential (role node, id = the node's id)
 * and its signature, under RECORD_LABEL, of the record's canonical JSON: every field but these
 * two, keys sorted at every level. Readers with a trust anchor accept an entry only when both
 * check and its claims are within the bounds below; anything else is ignored (logged once per id,
 * counted). Whoever can write to Redis can then delete or replay entries, not invent or alter them.
 */
export const RECORD_LABEL = "dfs-mesh/v1/registry-record";

/**
 * The most capacity a record may claim, 1 PiB: placement weighs nodes by it, so a larger claim
 * would take nearly every placement slot. Far above any single node's disks today.
 */
export const MAX_CAPACITY_BYTES = 2 ** 50;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

function signedBytes(fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(canonical(fields)));
}

/** The record with its credential and signature, as the node writes it. */
export function signRecord(identity: Identity, record: NodeRecord): NodeRecord {
  const { credential: _c, signature: _s, ...fields } = record;
  return {
    ...fields,
    credential: identity.credential.encoded.toString("base64"),
    signature: signAs(identity, RECORD_LABEL, signedBytes(fields)).toString("base64"),
  };
}

export interface RecordBounds {
  /** A record giving its heartbeat key a longer TTL is refused. */
  maxHeartbeatTtlMs: number;
}

/** Decodes entries, and with an anchor accepts only signed ones within the bounds. */
export class RecordCheck {
  readonly #anchor: TrustAnchor | undefined;
  readonly #bounds: RecordBounds;
  readonly #logger: Logger;
  readonly #logged = new Set<string>();
  #rejected = 0;

  constructor(anchor: TrustAnchor | undefined, bounds: RecordBounds, logger: Logger) {
    this.#anchor = anchor;
    this.#bounds = bounds;
    this.#logger = logger;
  }

  /** Entries refused so far (each read of one counts). */
  get rejected(): number {
    return this.#rejected;
  }

  /** The record stored under `id`, or undefined when there is none or it is refused. */
  decode(text: string | null, id: string): NodeRecord | undefined {
    if (text === null) return undefined;
    const record = decodeRecord(text);
    if (record === undefined || record.id !== id) return this.#refuse(id, "not a valid record");
    const problem = this.#boundsProblem(record) ?? this.#signatureProblem(text, record);
    return problem === undefined ? record : this.#refuse(id, problem);
  }

  #boundsProblem(r: NodeRecord): string | undefined {
    if (r.capacityBytes > MAX_CAPACITY_BYTES)
      return `capacity ${r.capacityBytes} is above ${MAX_CAPACITY_BYTES}`;
    if (r.freeBytes > r.capacityBytes) return "more free space than capacity";
    if (r.heartbeatTtlMs > this.#bounds.maxHeartbeatTtlMs)
      return `heartbeat TTL ${r.heartbeatTtlMs} ms is above ${this.#bounds.maxHeartbeatTtlMs}`;
    return undefined;
  }

  #signatureProblem(text: string, record: NodeRecord): string | undefined {
    const anchor = this.#anchor;
    if (anchor === undefined) return undefined;
    if (record.credential === undefined || record.signature === undefined) return "unsigned";
    let credential: Credential;
    try {
      credential = anchor.credential(Buffer.from(record.credential, "base64"), "node");
    } catch (err) {
      return (err as Error).message;
    }
    if (credential.id !== record.id) return `credential of node "${credential.id}"`;
    // Exactly the fields as written (not as the schema normalised them).
    const { credential: _c, signature: _s, ...fields } = JSON.parse(text) as Record<string, unknown>;
    const signature = Buffer.from(record.signature, "base64");
    const ok = anchor.signedBy(credential, RECORD_LABEL, signedBytes(fields), signature);
    return ok ? undefined : "bad signature";
  }

  #refuse(id: string, reason: string): undefined {
    this.#rejected++;
    const key = `${id}\n${reason}`;
    if (!this.#logged.has(key) && this.#logged.size < 1024) {
      this.#logged.add(key);
      this.#logger.warn({ node: id, reason }, "registry: ignoring a node record");
    }
    return undefined;
  }
}
