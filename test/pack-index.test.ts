import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { ObjectKind } from "../src/formats/index.ts";
import { type IndexEntry, PackIndex } from "../src/node/store/pack-index.ts";

const idOf = (n: number) => createHash("sha256").update(String(n)).digest("hex");

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("the packs' index agrees with a Map through 30 000 random sets, replacements and deletes", () => {
  const index = new PackIndex();
  const model = new Map<string, IndexEntry>();
  const next = random(7);
  const kinds: ObjectKind[] = ["chunk", "manifest"];
  for (let op = 0; op < 30_000; op++) {
    // 4000 ids of each kind: enough reuse for replacements, deletes of present and absent ids.
    const kind = kinds[Math.floor(next() * 2)]!;
    const id = idOf(Math.floor(next() * 4000));
    const key = `${kind}:${id}`;
    if (next() < 0.65) {
      const entry = {
        pack: 1 + Math.floor(next() * 5),
        at: op * 100,
        size: Math.floor(next() * 65536),
        writtenAt: op,
      };
      assert.deepEqual(index.set(kind, id, entry), model.get(key), `set #${op} returns the replaced entry`);
      model.set(key, entry);
    } else {
      assert.deepEqual(index.delete(kind, id), model.get(key), `delete #${op} returns the removed entry`);
      model.delete(key);
    }
    if (op % 5000 === 4999) {
      assert.equal(index.size, model.size);
      for (const [k, e] of model) {
        const [kd, i] = k.split(":") as [ObjectKind, string];
        assert.deepEqual(index.get(kd, i), e);
      }
    }
  }
  for (const kind of kinds) {
    const expected = [...model.keys()]
      .filter((k) => k.startsWith(`${kind}:`))
      .map((k) => k.slice(kind.length + 1))
      .sort();
    // Paged as store.list pages: strictly after the last id seen.
    const seen: string[] = [];
    for (let page = index.ids(kind, "", 333); page.length > 0; page = index.ids(kind, seen.at(-1)!, 333)) {
      seen.push(...page);
    }
    assert.deepEqual(seen, expected, `${kind} ids in order, each once`);
    let bytes = 0;
    for (const k of model.keys()) if (k.startsWith(`${kind}:`)) bytes += model.get(k)!.size;
    assert.deepEqual(index.count(kind), { count: expected.length, bytes });
    const inPack = index
      .inPack(3)
      .filter((o) => o.kind === kind)
      .map((o) => o.id)
      .sort();
    assert.deepEqual(inPack, expected.filter((i) => model.get(`${kind}:${i}`)!.pack === 3).sort());
  }
  assert.equal(index.get("chunk", "not hex"), undefined);
  assert.equal(index.get("chunk", idOf(99_999)), undefined);
});
