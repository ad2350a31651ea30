import { DfsError } from "../../errors.ts";

/**
 * Parsing of a single HTTP byte range (RFC 9110 §14). Multiple ranges and malformed headers are
 * ignored (the whole file is served, which the RFC allows); a well-formed range that lies outside
 * the file is unsatisfiable (416).
 */
export type RangeRequest =
  | { kind: "none" }
  | { kind: "range"; start: number; end: number }
  | { kind: "unsatisfiable" };

const SINGLE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/** `end` is inclusive, as in Content-Range. */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: "none" };
  const m = SINGLE.exec(header);
  if (!m) return { kind: "none" };
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return { kind: "none" };
  if (first === "") {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (!Number.isSafeInteger(n)) return { kind: "none" };
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: "none" };
  if (last !== "" && end < start) return { kind: "none" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "range", start, end: Math.min(end, size - 1) };
}

export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

/** What a GET or HEAD sends of a body of `size` bytes: the whole, one range, or nothing new (304). */
export interface SendPlan {
  status: 200 | 206 | 304;
  start: number;
  end: number;
  /** The Content-Range header of a 206. */
  contentRange?: string;
}

/**
 * The plan for a Range header once the preconditions passed: `rangeAllowed` is false when an
 * If-Range names another version (the whole body then). DFS_ERR_RANGE (416) when unsatisfiable;
 * `noun` names the body in that message ("file", "object").
 */
export function planRange(
  header: string | undefined,
  size: number,
  rangeAllowed: boolean,
  noun: string,
): SendPlan {
  const range = rangeAllowed ? parseRange(header, size) : ({ kind: "none" } as const);
  if (range.kind === "unsatisfiable") {
    throw new DfsError("DFS_ERR_RANGE", `the ${noun} has ${size} bytes`, { details: { size } });
  }
  if (range.kind === "range") {
    return {
      status: 206,
      start: range.start,
      end: range.end,
      contentRange: contentRange(range.start, range.end, size),
    };
  }
  return { status: 200, start: 0, end: size - 1 };
}
