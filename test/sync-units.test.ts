/**
 * Anti-entropy's parts without a network: the digest tree's sums, the element index, the SYNC
 * codecs against hostile bodies, and the digests a store keeps through its change hook, rebuilt
 * the same at open. Comparisons with a peer: sync-compare.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { isDfsError } from "../src/errors.ts";
import { ObjectStore } from "../src/node/store/index.ts";
import {
  DIGEST_BYTES,
  DigestTree,
  ElementIndex,
  manifestElement,
  ObjectDigests,
  PartitionSet,
} from "../src/node/sync/index.ts";
import { type SyncDigests, SyncLimits, SyncReq, type SyncRequest, SyncRes } from "../src/protocol/index.ts";
import { patternBytes, sha256 } from "./helpers/data.ts";
import { putChunk, storeOptions } from "./helpers/store.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const randomId = () => randomBytes(32).toString("hex");
/** An id in partition p. */
const idIn = (p: number) => p.toString(16).padStart(4, "0") + randomBytes(30).toString("hex");
const ALL = new PartitionSet(new Uint8Array(PartitionSet.BYTES).fill(0xff));

describe("digest tree", () => {
  test("sums do not depend on order, removal undoes addition, an element added twice is not one never added", () => {
    const hashes = Array.from({ length: 200 }, () => randomBytes(32));
    const a = new DigestTree();
    const b = new DigestTree();
    for (const h of hashes) a.add(h[0]! << 8, h);
    for (const h of [...hashes].reverse()) b.add(h[0]! << 8, h);
    assert.ok(a.digestOver(ALL).equals(b.digestOver(ALL)));
    assert.ok(a.groupsOver(ALL).equals(b.groupsOver(ALL)));
    const extra = randomBytes(32);
    b.add(7, extra);
    assert.ok(!a.digestOver(ALL).equals(b.digestOver(ALL)));
    b.remove(7, extra);
    assert.ok(a.digestOver(ALL).equals(b.digestOver(ALL)));
    // XOR would cancel a pair; a sum does not.
    b.add(7, extra);
    b.add(7, extra);
    assert.ok(!a.digestOver(ALL).equals(b.digestOver(ALL)));
    for (const h of hashes) a.remove(h[0]! << 8, h);
    assert.ok(a.digestOver(ALL).equals(Buffer.alloc(DIGEST_BYTES)), "empty again: zero");
  });

  test("the digest over a set of partitions is the sum of theirs; groups cover their 256 partitions", () => {
    const inSet = new DigestTree();
    // Every element of the set's partitions moved into another tree gives the same digest.
    const elements = new Map<number, Buffer[]>();
    const t2 = new DigestTree();
    for (let i = 0; i < 300; i++) {
      const p = Math.floor(Math.random() * 65_536);
      const h = randomBytes(32);
      t2.add(p, h);
      elements.set(p, [...(elements.get(p) ?? []), h]);
    }
    const picked = new PartitionSet();
    for (const p of [...elements.keys()].filter((_, i) => i % 3 === 0)) {
      picked.add(p);
      for (const h of elements.get(p)!) inSet.add(p, h);
    }
    assert.ok(t2.digestOver(picked).equals(inSet.digestOver(ALL)));
    assert.ok(t2.groupsOver(picked).equals(inSet.groupsOver(ALL)));
    const groups = t2.groupsOver(ALL);
    let total = 0;
    for (let g = 0; g < 256; g++) total += groups.readUInt32BE(g * DIGEST_BYTES);
    assert.equal(total, 300);
    assert.equal(t2.size, 300);
  });

  test("partition sets: bits, group cover, listing", () => {
    const s = new PartitionSet();
    assert.equal(s.groupCover(0), "none");
    for (let p = 256; p < 512; p++) s.add(p);
    s.add(70_000 % 65_536);
    s.add(65_535);
    assert.equal(s.groupCover(1), "all");
    assert.equal(s.groupCover(255), "some");
    assert.equal(s.size, 258);
    assert.deepEqual(s.list([255]), [65_535]);
    assert.ok(s.has(4464) && !s.has(4465));
    assert.throws(() => new PartitionSet(new Uint8Array(10)), RangeError);
  });
});

describe("element index", () => {
  test("set, replace, delete keep the tree in step; pages come sorted and complete", () => {
    const index = new ElementIndex({ hashIsId: false });
    const ids = Array.from({ length: 2500 }, () => idIn(42)).concat(Array.from({ length: 50 }, randomId));
    const hashes = new Map(ids.map((id) => [id, randomBytes(32)]));
    for (const id of ids) index.set(id, hashes.get(id));
    assert.equal(index.size, ids.length);
    const expected = new DigestTree();
    for (const id of ids) expected.add(Number.parseInt(id.slice(0, 4), 16), hashes.get(id)!);
    assert.ok(index.tree.digestOver(ALL).equals(expected.digestOver(ALL)));
    // Pages of partition 42: sorted, nothing missed, each element's own hash.
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = index.page(42, after, 1000);
      for (let at = 0; at < page.elements.length; at += 64) {
        const id = page.elements.toString("hex", at, at + 32);
        assert.ok(page.elements.subarray(at + 32, at + 64).equals(hashes.get(id)!));
        seen.push(id);
      }
      after = page.next;
    } while (after !== undefined);
    assert.deepEqual(seen, ids.filter((id) => id.startsWith("002a")).sort());
    // A new version replaces; the same one changes nothing; a delete takes it out.
    const [first] = ids;
    const newer = randomBytes(32);
    index.set(first!, newer);
    expected.remove(42, hashes.get(first!)!);
    expected.add(42, newer);
    assert.ok(index.tree.digestOver(ALL).equals(expected.digestOver(ALL)));
    assert.ok(index.hashOf(first!)!.equals(newer));
    assert.equal(index.delete(first!), true);
    assert.equal(index.delete(first!), false);
    expected.remove(42, newer);
    assert.ok(index.tree.digestOver(ALL).equals(expected.digestOver(ALL)));
    assert.equal(index.hashOf(first!), undefined);
  });

  test("pages stay sorted and whole when elements join and leave between pages", () => {
    const index = new ElementIndex({ hashIsId: true });
    const held = new Set(Array.from({ length: 1500 }, () => idIn(7)));
    for (const id of held) index.set(id);
    const seen: string[] = [];
    let after: string | undefined;
    let turn = 0;
    do {
      const page = index.page(7, after, 400);
      for (let at = 0; at < page.elements.length; at += 64)
        seen.push(page.elements.toString("hex", at, at + 32));
      after = page.next;
      if (turn++ === 1) {
        // Between pages: one id above the cursor joins, one above it leaves, one below it leaves.
        const above = [...held].sort().filter((id) => id > after!);
        const below = [...held].sort().filter((id) => id <= after!);
        index.delete(above[5]!);
        held.delete(above[5]!);
        index.delete(below[0]!);
        held.delete(below[0]!);
        const joined = `${after!.slice(0, -1)}${after!.endsWith("f") ? "e" : "f"}`;
        if (joined > after! && !held.has(joined)) {
          index.set(joined);
          held.add(joined);
        }
      }
    } while (after !== undefined);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]! < seen[i]!, "ascending, each once");
    const expected = [...held].sort().filter((id) => id > seen[799]!);
    assert.deepEqual(seen.slice(800), expected, "after the change, the pages list what is held now");
  });

  test("a chunk's element is its id: nothing but the id is kept", () => {
    const index = new ElementIndex({ hashIsId: true });
    const id = randomId();
    index.set(id);
    index.set(id);
    assert.equal(index.size, 1);
    assert.equal(index.hashOf(id)!.toString("hex"), id);
  });
});

describe("SYNC codecs", () => {
  const set = new Uint8Array(SyncLimits.SET_BYTES).fill(0x5a);
  const requests: SyncRequest[] = [
    { op: "root", tree: 0, set },
    { op: "groups", tree: 1, set },
    { op: "partitions", tree: 1, partitions: [0, 1, 9, 65_535] },
    { op: "elements", tree: 0, partition: 0x1234, after: `1234${"ab".repeat(30)}`, limit: 1000 },
    { op: "elements", tree: 7, partition: 0, after: undefined, limit: 1 },
  ];

  test("requests and answers decode to what was encoded", () => {
    for (const r of requests) {
      const back = SyncReq.decode(SyncReq.encode(r));
      assert.deepEqual(
        { ...back, ...("set" in back ? { set: [...back.set] } : {}) },
        {
          ...r,
          ...("set" in r ? { set: [...r.set] } : {}),
        },
      );
    }
    const digests = randomBytes(256 * DIGEST_BYTES);
    const answer = SyncRes.decode(requests[1]!, SyncRes.encode({ digests })) as SyncDigests;
    assert.ok(answer.digests.equals(digests));
    const elements = randomBytes(3 * 64);
    const next = randomId();
    assert.deepEqual(SyncRes.decode(requests[3]!, SyncRes.encode({ elements, next })), { elements, next });
  });

  test("hostile bodies are DFS_ERR_PROTOCOL, before anything is built from them", () => {
    const body = (...bytes: (number | Buffer)[]) =>
      Buffer.concat(bytes.map((b) => (typeof b === "number" ? Buffer.from([b]) : b)));
    const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
    const hostile: [string, Buffer][] = [
      ["empty", Buffer.alloc(0)],
      ["an unknown op", body(9, 0)],
      ["a set one byte short", body(1, 0, Buffer.alloc(8191))],
      ["a set one byte long", body(2, 0, Buffer.alloc(8193))],
      ["no partitions", body(3, 0, u16(0))],
      ["a count over the limit", body(3, 0, u16(65_535), Buffer.alloc(64))],
      ["a count beyond the body", body(3, 0, u16(1000), Buffer.alloc(20))],
      ["partitions out of order", body(3, 0, u16(2), u16(5), u16(5))],
      ["an element limit of 0", body(4, 0, u16(1), 0, u16(0))],
      ["an element limit over 1000", body(4, 0, u16(1), 0, u16(1001))],
      ["`after` in another partition", body(4, 0, u16(1), 1, Buffer.alloc(32), u16(10))],
      ["trailing bytes", body(4, 0, u16(1), 0, u16(10), 0)],
    ];
    for (const [what, b] of hostile) {
      assert.throws(
        () => SyncReq.decode(b),
        (e) => isDfsError(e, "DFS_ERR_PROTOCOL"),
        what,
      );
    }
    // An answer with more digests or elements than asked.
    const twoDigests = SyncRes.encode({ digests: Buffer.alloc(2 * DIGEST_BYTES) });
    assert.throws(
      () => SyncRes.decode(requests[0]!, twoDigests),
      (e) => isDfsError(e, "DFS_ERR_PROTOCOL"),
    );
    const many = SyncRes.encode({ elements: Buffer.alloc(2 * 64), next: undefined });
    assert.throws(
      () => SyncRes.decode(requests[4]!, many),
      (e) => isDfsError(e, "DFS_ERR_PROTOCOL"),
    );
  });
});

describe("a store's digests", () => {
  test("kept by its change hook through writes, replacements, deletes and quarantine; rebuilt the same at open", async () => {
    const dir = await makeTempDir("dfs-digests-");
    const live = new ObjectDigests();
    const small = { packs: true, changes: live };
    let store = await ObjectStore.open(storeOptions(dir.path, small));
    try {
      const chunks: string[] = [];
      for (let i = 0; i < 20; i++) chunks.push(await putChunk(store, patternBytes(i % 2 ? 100 : 70_000, i)));
      const manifestId = randomId();
      for (const body of [patternBytes(300, 1), patternBytes(301, 2), patternBytes(80_000, 3)]) {
        const w = await store.createWriter({
          kind: "manifest",
          id: manifestId,
          size: body.length,
          checksum: sha256(body),
        });
        w.end(body);
        await w.commit();
        assert.ok(live.manifests.hashOf(manifestId)!.equals(manifestElement(manifestId, sha256(body))));
      }
      await store.delete("chunk", chunks[0]!);
      await store.delete("chunk", chunks[1]!);
      await store.quarantine("chunk", chunks[2]!);
      assert.equal(live.chunks.size, 17);
      assert.equal(live.manifests.size, 1);
      await store.close();
      const rebuilt = new ObjectDigests();
      store = await ObjectStore.open(storeOptions(dir.path, { packs: true, changes: rebuilt }));
      for (const kind of ["chunk", "manifest"] as const) {
        assert.ok(
          rebuilt.of(kind).tree.groupsOver(ALL).equals(live.of(kind).tree.groupsOver(ALL)),
          `${kind}: the same digests at open`,
        );
      }
      assert.equal(rebuilt.chunks.size, 17);
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
