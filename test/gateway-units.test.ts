import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { ErrorCodes } from "../src/errors.ts";
import {
  contentDisposition,
  filenameFromDisposition,
  ifRangeAllows,
  matchesIfNoneMatch,
} from "../src/gateway/download/headers.ts";
import { parseRange } from "../src/gateway/download/range.ts";
import { slicePieces } from "../src/gateway/download/stream.ts";
import { HTTP_STATUS } from "../src/gateway/errors.ts";
import {
  checkChunkBytes,
  effectiveMaxUpload,
  MAX_CHUNK_BYTES,
  MAX_CHUNKS_PER_FILE,
} from "../src/gateway/limits.ts";
import { Chunker } from "../src/gateway/upload/chunker.ts";
import { cleanContentType, cleanName } from "../src/gateway/upload/meta.ts";
import { TaskWindow } from "../src/gateway/upload/window.ts";
import { REPO_ROOT } from "./helpers/proc.ts";

async function cut(pieces: Buffer[], chunkBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  // Copy: the chunk is a view of the chunker's reused buffer.
  const chunker = new Chunker(Buffer.alloc(chunkBytes), async (c) => void out.push(Buffer.from(c)));
  for (const p of pieces) await chunker.push(p);
  await chunker.end();
  return out;
}

describe("Chunker", () => {
  test("any split of the input gives the same fixed-size chunks", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.array(fc.nat(600), { maxLength: 8 }),
        fc.integer({ min: 1, max: 130 }),
        async (bytes, cuts, chunkBytes) => {
          const data = Buffer.from(bytes);
          const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
          const pieces: Buffer[] = [];
          let at = 0;
          for (const p of [...points, data.length]) {
            pieces.push(data.subarray(at, p));
            at = p;
          }
          const chunks = await cut(pieces, chunkBytes);
          assert.deepEqual(Buffer.concat(chunks), data);
          assert.equal(chunks.length, Math.ceil(data.length / chunkBytes));
          chunks.forEach((c, i) => {
            if (i < chunks.length - 1) assert.equal(c.length, chunkBytes);
            else assert.ok(c.length >= 1 && c.length <= chunkBytes);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test("an empty input gives no chunk; an exact multiple no empty tail", async () => {
    assert.equal((await cut([], 4)).length, 0);
    assert.equal((await cut([Buffer.alloc(0)], 4)).length, 0);
    assert.deepEqual((await cut([Buffer.from("abcdefgh")], 4)).map(String), ["abcd", "efgh"]);
  });

  test("waits for the consumer before copying more (backpressure)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const seen: string[] = [];
    const chunker = new Chunker(Buffer.alloc(2), async (c) => {
      seen.push(String(c));
      await gate;
    });
    const pushing = chunker.push(Buffer.from("abcd"));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ["ab"]);
    release();
    await pushing;
    assert.deepEqual(seen, ["ab", "cd"]);
  });
});

describe("slicePieces", () => {
  test("any range of any split gives the same bytes as slicing the whole (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        (arrays, x, y) => {
          const pieces = arrays.map((a) => Buffer.from(a));
          const whole = Buffer.concat(pieces);
          const from = whole.length === 0 ? 0 : x % (whole.length + 1);
          const to = from + (whole.length === 0 ? 0 : y % (whole.length - from + 1));
          const parts = [...slicePieces(pieces, from, to)];
          assert.ok(Buffer.concat(parts).equals(whole.subarray(from, to)));
          assert.ok(parts.every((p) => p.length > 0));
        },
      ),
    );
  });
});

describe("parseRange", () => {
  const r = (h: string | undefined, size: number) => parseRange(h, size);
  test("single ranges", () => {
    assert.deepEqual(r("bytes=0-9", 100), { kind: "range", start: 0, end: 9 });
    assert.deepEqual(r("bytes=90-", 100), { kind: "range", start: 90, end: 99 });
    assert.deepEqual(r("bytes=-10", 100), { kind: "range", start: 90, end: 99 });
    assert.deepEqual(r("bytes=-1000", 100), { kind: "range", start: 0, end: 99 });
    assert.deepEqual(r("bytes=50-1000", 100), { kind: "range", start: 50, end: 99 });
    assert.deepEqual(r("bytes = 1 - 2", 100), { kind: "range", start: 1, end: 2 });
  });
  test("outside the file is unsatisfiable", () => {
    assert.deepEqual(r("bytes=100-", 100), { kind: "unsatisfiable" });
    assert.deepEqual(r("bytes=100-200", 100), { kind: "unsatisfiable" });
    assert.deepEqual(r("bytes=-0", 100), { kind: "unsatisfiable" });
    assert.deepEqual(r("bytes=0-", 0), { kind: "unsatisfiable" });
    assert.deepEqual(r("bytes=-5", 0), { kind: "unsatisfiable" });
  });
  test("malformed or multiple ranges are ignored", () => {
    for (const h of [
      undefined,
      "",
      "bytes=",
      "bytes=-",
      "bytes=5-2",
      "items=0-1",
      "bytes=0-1,3-4",
      "bytes=a-b",
    ]) {
      assert.deepEqual(r(h, 100), { kind: "none" }, String(h));
    }
  });
  test("a satisfiable range always lies inside the file", () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.option(fc.nat(2000)), fc.option(fc.nat(2000)), (size, a, b) => {
        const h = `bytes=${a ?? ""}-${b ?? ""}`;
        const got = r(h, size);
        if (got.kind === "range") {
          assert.ok(got.start >= 0 && got.start <= got.end && got.end < size, h);
        }
      }),
    );
  });
});

describe("download headers", () => {
  const hash = "a".repeat(64);
  test("If-None-Match", () => {
    assert.equal(matchesIfNoneMatch(`"${hash}"`, hash), true);
    assert.equal(matchesIfNoneMatch(`W/"${hash}"`, hash), true);
    assert.equal(matchesIfNoneMatch(`"x", "${hash}"`, hash), true);
    assert.equal(matchesIfNoneMatch("*", hash), true);
    assert.equal(matchesIfNoneMatch(`"${"b".repeat(64)}"`, hash), false);
    assert.equal(matchesIfNoneMatch(undefined, hash), false);
    assert.equal(ifRangeAllows(`"${hash}"`, hash), true);
    assert.equal(ifRangeAllows(`W/"${hash}"`, hash), false);
  });

  test("Content-Disposition round-trips names, RFC 6266", () => {
    assert.equal(contentDisposition(""), "attachment");
    assert.equal(contentDisposition("photo.jpg"), 'attachment; filename="photo.jpg"');
    assert.equal(
      contentDisposition('naïve "quote".txt'),
      "attachment; filename=\"na_ve _quote_.txt\"; filename*=UTF-8''na%C3%AFve%20%22quote%22.txt",
    );
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (name) => {
        const clean = name.replace(/[\r\n\0]/g, "");
        const header = contentDisposition(name);
        assert.ok(/^[\x20-\x7e]*$/.test(header), header);
        if (clean !== "") assert.equal(filenameFromDisposition(header), clean);
      }),
    );
  });

  test("names and content types from clients are cleaned", () => {
    assert.equal(cleanName("../../etc/passwd"), "passwd");
    assert.equal(cleanName("C:\\Users\\me\\a.txt"), "a.txt");
    assert.equal(cleanName("a\r\nb"), "ab");
    assert.equal(cleanName(undefined), "");
    assert.equal(cleanName(".."), "");
    assert.equal([...cleanName("é".repeat(400))].length, 255);
    assert.equal(cleanContentType("image/png"), "image/png");
    assert.equal(cleanContentType("text/plain; charset=utf-8"), "text/plain; charset=utf-8");
    assert.equal(cleanContentType("text/html\r\nx: y"), "application/octet-stream");
    assert.equal(cleanContentType("nonsense"), "application/octet-stream");
    assert.equal(cleanContentType(undefined), "application/octet-stream");
  });
});

describe("error mapping", () => {
  test("every code has a status, and openapi.yaml lists every code", () => {
    const spec = parse(readFileSync(join(REPO_ROOT, "openapi.yaml"), "utf8")) as {
      components: { schemas: { ErrorCode: { enum: string[] } } };
    };
    assert.deepEqual(Object.keys(HTTP_STATUS).sort(), Object.keys(ErrorCodes).sort());
    assert.deepEqual([...spec.components.schemas.ErrorCode.enum].sort(), Object.keys(ErrorCodes).sort());
    for (const status of Object.values(HTTP_STATUS)) assert.ok(status >= 400 && status <= 599);
  });
});

describe("TaskWindow", () => {
  test("holds at most `limit` tasks and reports the first failure", async () => {
    const abort = new AbortController();
    const window = new TaskWindow(2, abort);
    let running = 0;
    let peak = 0;
    const task = async (fail: boolean) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (fail) throw new Error("boom");
    };
    for (let i = 0; i < 5; i++) {
      await window.slot();
      window.add(task(false));
    }
    await window.drain();
    assert.equal(peak, 2);
    await window.slot();
    window.add(task(true));
    await assert.rejects(window.drain(), /boom/);
    assert.equal(abort.signal.aborted, true);
    await assert.rejects(window.slot(), /boom/);
  });
});

describe("gateway settings", () => {
  test("a chunk nodes cannot take fails at startup; uploads stop where a manifest would overflow", () => {
    checkChunkBytes(1024 * 1024);
    assert.throws(() => checkChunkBytes(0), { code: "DFS_ERR_CONFIG" });
    assert.throws(() => checkChunkBytes(MAX_CHUNK_BYTES + 1), { code: "DFS_ERR_CONFIG" });
    const big = 64 * 1024 ** 3;
    assert.equal(effectiveMaxUpload({ chunkBytes: 1024 * 1024, maxUploadBytes: big }), big);
    assert.equal(effectiveMaxUpload({ chunkBytes: 4096, maxUploadBytes: big }), MAX_CHUNKS_PER_FILE * 4096);
  });
});
