import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Placement, type PlacementNode } from "../src/placement/index.ts";

interface Vectors {
  sets: {
    name: string;
    nodes: PlacementNode[];
    partitions: number;
    objects: { objectId: string; partition: number; order: string[] }[];
  }[];
}

const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, "fixtures/placement-vectors.json"), "utf8"),
) as Vectors;

test("placement golden vectors (a failure here means every object would move)", () => {
  assert.ok(vectors.sets.length >= 2);
  for (const set of vectors.sets) {
    assert.ok(set.objects.length >= 10, set.name);
    for (const nodes of [set.nodes, [...set.nodes].reverse()]) {
      const p = new Placement(nodes, { partitions: set.partitions });
      for (const o of set.objects) {
        assert.equal(p.partitionOf(o.objectId), o.partition, `${set.name}: ${o.objectId}`);
        assert.deepEqual(
          p.order(o.objectId).map((n) => n.id),
          o.order,
          `${set.name}: ${o.objectId}`,
        );
      }
    }
  }
});
