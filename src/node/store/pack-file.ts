import { closeSync, read } from "node:fs";
import { join } from "node:path";
import { DfsError } from "../../errors.ts";
import type { ObjectKind } from "../../formats/index.ts";

const PACK_NAME_RE = /^(\d{8})\.pack$/;

/** One pack file of the log: its descriptor, where appends go, and what in it is still live. */
export class Pack {
  readonly seq: number;
  readonly path: string;
  fd: number;
  /** End of the last whole record: where the next batch goes. */
  end: number;
  /** Bytes of the records the index points at. */
  live = 0;
  /** Keys (objectKey) of the removal records in this pack. */
  readonly removals = new Set<string>();
  /** Reads in progress: the descriptor is closed only when none is left. */
  refs = 0;
  /** Being compacted: its objects are leaving, it is not queued again. */
  retiring = false;
  dropped = false;

  constructor(seq: number, dir: string, fd: number, end: number) {
    this.seq = seq;
    this.path = packPath(dir, seq);
    this.fd = fd;
    this.end = end;
  }

  release(): void {
    if (--this.refs === 0 && this.dropped) this.#close();
  }

  drop(): void {
    this.dropped = true;
    if (this.refs === 0) this.#close();
  }

  /** Fills `into` from `position`; DFS_ERR_CORRUPT when the pack ends first. */
  async readFully(into: Buffer, position: number): Promise<void> {
    this.refs++;
    try {
      if ((await readAt(this.fd, into, position)) < into.length) {
        throw new DfsError("DFS_ERR_CORRUPT", `${this.path} ends inside the record at ${position}`);
      }
    } finally {
      this.release();
    }
  }

  #close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

export function packPath(dir: string, seq: number): string {
  return join(dir, `${String(seq).padStart(8, "0")}.pack`);
}

/** The sequence number of a pack file's name, or undefined for any other name. */
export function packSeq(name: string): number | undefined {
  const m = PACK_NAME_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

export interface ObjectRef {
  kind: ObjectKind;
  id: string;
}

export function objectKey(kind: ObjectKind, id: string): string {
  return (kind === "chunk" ? "c" : "m") + id;
}

export function splitKey(key: string): ObjectRef {
  return { kind: key[0] === "c" ? "chunk" : "manifest", id: key.slice(1) };
}

/** Fills `into` from `position` until it is full or the file ends; resolves how many bytes. */
export async function readAt(fd: number, into: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < into.length) {
    const n = await new Promise<number>((resolve, reject) =>
      read(fd, into, done, into.length - done, position + done, (err, bytes) =>
        err ? reject(err) : resolve(bytes),
      ),
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Where a live object's record is. */
export interface PackEntry {
  readonly pack: Pack;
  /** Offset of the record's header in its pack. */
  readonly at: number;
  readonly size: number;
  readonly writtenAt: number;
}
