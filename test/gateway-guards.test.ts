/**
 * The gateway's guards on their own: body progress and write stalls under a clock the test
 * controls, transfer slots, the read-ahead budget, API key permissions, and the keys file watcher
 * on real files.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import type { FastifyRequest } from "fastify";
import type { ApiKey } from "../src/config/index.ts";
import { watchKeysFile } from "../src/config/index.ts";
import { isDfsError } from "../src/errors.ts";
import { ApiKeys } from "../src/gateway/auth.ts";
import {
  BODY_PROGRESS_BYTES,
  guardBody,
  ReadAheadBudget,
  TransferSlots,
  WriteStall,
} from "../src/gateway/guards.ts";
import { waitFor } from "./helpers/registry.ts";
import { makeTempDir } from "./helpers/tmp.ts";

/** A body the test feeds piece by piece. */
function channel() {
  const queue: (Buffer | null)[] = [];
  let wake: (() => void) | undefined;
  return {
    push(piece: Buffer | null) {
      queue.push(piece);
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const piece = queue.shift()!;
        if (piece === null) return;
        yield piece;
      }
    },
  };
}

/** Lets promise callbacks run (the mocked clock does not move). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function state<T>(p: Promise<T>): { settled: boolean; error?: unknown } {
  const s: { settled: boolean; error?: unknown } = { settled: false };
  p.then(
    () => {
      s.settled = true;
    },
    (err: unknown) => {
      s.settled = true;
      s.error = err;
    },
  );
  return s;
}

/** The next read, answered by `bytes` arriving `ms` later, yields them: the body goes on. */
async function arrivesAfter(
  it: AsyncIterator<Buffer>,
  body: ReturnType<typeof channel>,
  ms: number,
  bytes: number,
): Promise<void> {
  const p = it.next();
  mock.timers.tick(ms);
  body.push(Buffer.alloc(bytes));
  assert.equal((await p).done, false);
}

/** `read` is still pending `ms - 1` ms from now and fails with a request timeout at `ms`, not before. */
async function cutAt(read: ReturnType<typeof state>, ms: number): Promise<void> {
  mock.timers.tick(ms - 1);
  await settle();
  assert.equal(read.settled, false);
  mock.timers.tick(1);
  await settle();
  assert.ok(isDfsError(read.error, "DFS_ERR_REQUEST_TIMEOUT"));
}

describe("guardBody (mocked clock)", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"] }));
  afterEach(() => mock.timers.reset());

  test("a silent body is cut after the timeout, not before", async () => {
    let stalls = 0;
    const it = guardBody(channel(), 1000, () => stalls++)[Symbol.asyncIterator]();
    await cutAt(state(it.next()), 1000);
    assert.equal(stalls, 1);
  });

  test("after a stall, return() does not wait for the source's pending read", async () => {
    async function* silent(): AsyncGenerator<Buffer> {
      await new Promise(() => {}); // a client that never sends again
      yield Buffer.alloc(0);
    }
    const it = guardBody(silent(), 1000)[Symbol.asyncIterator]();
    const next = state(it.next());
    mock.timers.tick(1000);
    await settle();
    assert.ok(isDfsError(next.error, "DFS_ERR_REQUEST_TIMEOUT"));
    const ret = state(it.return!());
    await settle();
    assert.equal(ret.settled, true);
  });

  test("a trickle is cut once its waits add up to the timeout without enough bytes", async () => {
    const body = channel();
    const it = guardBody(body, 1000)[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) await arrivesAfter(it, body, 300, 1);
    await cutAt(state(it.next()), 100);
  });

  test("steady progress is never cut, and time the reader spends elsewhere does not count", async () => {
    const body = channel();
    const it = guardBody(body, 1000)[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) {
      await arrivesAfter(it, body, 900, BODY_PROGRESS_BYTES);
      mock.timers.tick(60_000); // the gateway busy with its nodes: backpressure, not the client's stall
    }
    body.push(null);
    const end = it.next();
    assert.equal((await end).done, true);
  });
});

describe("WriteStall (mocked clock)", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  test("fires only when a piece waits the whole timeout", () => {
    let cuts = 0;
    const stall = new WriteStall(500, () => cuts++);
    stall.arm();
    mock.timers.tick(499);
    stall.disarm();
    stall.arm();
    mock.timers.tick(499);
    assert.equal(cuts, 0);
    mock.timers.tick(1);
    assert.equal(cuts, 1);
  });
});

test("TransferSlots: BUSY beyond the limit; a slot given back twice counts once", () => {
  const slots = new TransferSlots(2);
  const a = slots.acquire();
  slots.acquire();
  assert.throws(
    () => slots.acquire(),
    (err: unknown) => isDfsError(err, "DFS_ERR_BUSY"),
  );
  a();
  a();
  assert.equal(slots.inUse, 1);
  slots.acquire();
  assert.throws(
    () => slots.acquire(),
    (err: unknown) => isDfsError(err, "DFS_ERR_BUSY"),
  );
});

test("ReadAheadBudget: takes while it lasts", () => {
  const budget = new ReadAheadBudget(3);
  assert.ok(budget.take(2));
  assert.equal(budget.take(2), false);
  budget.give(2);
  assert.ok(budget.take(3));
  assert.equal(budget.taken, 3);
});

const key = (name: string, secret: string, ...perms: ("read" | "write" | "delete" | "admin")[]): ApiKey => ({
  name,
  secret,
  grants: perms.map((permission) => ({ permission, scope: "*" })),
});
const req = (authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as FastifyRequest;
const code = (f: () => unknown) => {
  try {
    f();
    return "ok";
  } catch (err) {
    return isDfsError(err) ? err.code : String(err);
  }
};

describe("ApiKeys", () => {
  test("each operation needs its permission; replace swaps the whole set", () => {
    const keys = new ApiKeys([key("w", "w".repeat(16), "read", "write"), key("o", "o".repeat(16), "admin")], {
      keyed: true,
      protectReads: false,
    });
    const w = `Bearer ${"w".repeat(16)}`;
    const o = `Bearer ${"o".repeat(16)}`;
    assert.equal(
      code(() => keys.check(req(), "read")),
      "ok",
      "open reads",
    );
    assert.equal(
      code(() => keys.check(req(), "public")),
      "ok",
    );
    assert.equal(
      code(() => keys.check(req(), "write")),
      "DFS_ERR_UNAUTHORIZED",
    );
    assert.equal(
      code(() => keys.check(req("Bearer nope-nope-nope-nope"), "write")),
      "DFS_ERR_FORBIDDEN",
    );
    assert.equal(keys.check(req(w), "write"), "w");
    assert.equal(
      code(() => keys.check(req(w), "delete")),
      "DFS_ERR_FORBIDDEN",
    );
    assert.equal(
      code(() => keys.check(req(w), "admin")),
      "DFS_ERR_FORBIDDEN",
    );
    assert.equal(keys.check(req(o), "admin"), "o");
    assert.equal(
      code(() => keys.check(req(o), "write")),
      "DFS_ERR_FORBIDDEN",
    );

    keys.replace([key("w2", "x".repeat(16), "write")]);
    assert.equal(
      code(() => keys.check(req(w), "write")),
      "DFS_ERR_FORBIDDEN",
      "the old key stopped",
    );
    assert.equal(keys.check(req(`Bearer ${"x".repeat(16)}`), "write"), "w2");
  });

  test("protected reads need read; a gateway without keys lets everything through", () => {
    const keys = new ApiKeys([key("a", "a".repeat(16), "admin")], { keyed: true, protectReads: true });
    assert.equal(
      code(() => keys.check(req(), "read")),
      "DFS_ERR_UNAUTHORIZED",
    );
    assert.equal(
      code(() => keys.check(req(`Bearer ${"a".repeat(16)}`), "read")),
      "DFS_ERR_FORBIDDEN",
    );
    const open = new ApiKeys([], { keyed: false, protectReads: true });
    for (const access of ["read", "write", "delete", "admin"] as const) {
      assert.equal(
        code(() => open.check(req(), access)),
        "ok",
        access,
      );
    }
    // Keyed with no key at all (an empty keys file): nothing that needs a key gets in.
    const none = new ApiKeys([], { keyed: true, protectReads: false });
    assert.equal(
      code(() => none.check(req("Bearer anything-at-all-123"), "write")),
      "DFS_ERR_FORBIDDEN",
    );
  });
});

describe("watchKeysFile (real files)", () => {
  test("a replaced file is picked up; a malformed one is reported and ignored; reload() reads now", async () => {
    const dir = await makeTempDir("dfs-watch-");
    const path = join(dir.path, "keys");
    await writeFile(path, `a:${"a".repeat(16)}:read\n`);
    const seen: string[][] = [];
    const errors: string[] = [];
    const watcher = watchKeysFile(path, {
      pollMs: 200,
      onKeys: (keys) => seen.push(keys.map((k) => k.name)),
      onError: (err) => errors.push(err.message),
    });
    try {
      await writeFile(`${path}.tmp`, `b:${"b".repeat(16)}:write\n`);
      await rename(`${path}.tmp`, path);
      assert.deepEqual(seen[0], ["a"], "read at once");
      await waitFor(async () => seen.length === 2, 5000, "the new file");
      assert.deepEqual(seen[1], ["b"]);

      await writeFile(path, "garbage\n");
      await waitFor(async () => errors.length > 0, 5000, "the error");
      assert.match(errors[0]!, /expected name:secret:perms/);
      assert.equal(seen.length, 2, "no keys applied from a bad file");

      // reload() reads at once, before any notification could arrive.
      const before = seen.length;
      writeFileSync(path, `c:${"c".repeat(16)}:admin\n`);
      watcher.reload();
      assert.equal(seen.length, before + 1);
      assert.deepEqual(seen.at(-1), ["c"]);
    } finally {
      watcher.close();
      await dir.remove();
    }
  });
});
