/**
 * Comparing trees with a peer, without a network: the descent of a comparison against answerSync
 * (as a peer answers), and the work a repair round finds from it: the differing ids per peer, the
 * hand-offs, an older peer, an unreachable one, and one that does not answer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { DfsError, isDfsError } from "../src/errors.ts";
import { findWork } from "../src/node/heal/differences.ts";
import { Layout } from "../src/node/heal/layout.ts";
import { PEER_ANSWER_MS } from "../src/node/heal/peer-answer.ts";
import {
  answerSync,
  compareTree,
  ObjectDigests,
  PartitionSet,
  type RemoteTree,
  TREES,
} from "../src/node/sync/index.ts";
import { SyncReq, type SyncRequest, SyncRes } from "../src/protocol/index.ts";
import { advance, settled, useMockTime } from "./helpers/clock.ts";
import { sha256 } from "./helpers/data.ts";
import { testLogger } from "./helpers/registry.ts";

const randomId = () => randomBytes(32).toString("hex");
/** An id in partition p. */
const idIn = (p: number) => p.toString(16).padStart(4, "0") + randomBytes(30).toString("hex");
const ALL = new PartitionSet(new Uint8Array(PartitionSet.BYTES).fill(0xff));

/** A peer's digests, answered as a node answers SYNC, counting the requests. */
function peer(digests: ObjectDigests, tree: number, asked: string[]): RemoteTree {
  const ask = async (request: SyncRequest) => {
    asked.push(request.op);
    const wire = SyncReq.decode(SyncReq.encode(request));
    return SyncRes.decode(request, SyncRes.encode(answerSync(digests, wire)));
  };
  return {
    sums: (r) => ask({ ...r, tree }) as never,
    partitions: (r) => ask({ ...r, tree }) as never,
    elements: (r) => ask({ ...r, tree }) as never,
  };
}

describe("comparing trees", () => {
  test("in sync: one request; differences: only the differing ids of the shared partitions", async () => {
    const ours = new ObjectDigests();
    const theirs = new ObjectDigests();
    const shared = new PartitionSet();
    const ids = Array.from({ length: 5000 }, randomId);
    for (const id of ids) {
      const p = Number.parseInt(id.slice(0, 4), 16);
      if (p % 2 === 0) shared.add(p);
      const sum = sha256(Buffer.from(id));
      ours.held("manifest", id, sum);
      theirs.held("manifest", id, sum);
    }
    let asked: string[] = [];
    const remote = peer(theirs, TREES.manifest, asked);
    assert.deepEqual(await compareTree(ours.manifests, remote, shared), {
      ours: [],
      theirs: 0,
      partitions: 0,
    });
    assert.deepEqual(asked, ["root"]);

    const inShared = ids.filter((id) => shared.has(Number.parseInt(id.slice(0, 4), 16)));
    const notShared = ids.find((id) => !shared.has(Number.parseInt(id.slice(0, 4), 16)))!;
    const [newer, missing, onlyTheirs] = [inShared[0]!, inShared[1]!, inShared[2]!];
    ours.held("manifest", newer, sha256(Buffer.from("v2"))); // another version here
    theirs.gone("manifest", missing); // they lack one of ours
    ours.gone("manifest", onlyTheirs); // we lack one of theirs
    ours.held("manifest", notShared, sha256(Buffer.from("v3"))); // outside the shared set: not seen
    asked = [];
    const found = await compareTree(ours.manifests, peer(theirs, TREES.manifest, asked), shared);
    assert.deepEqual(found.ours.sort(), [newer, missing].sort());
    assert.equal(found.theirs, 2, "their version of `newer` and `onlyTheirs`");
    assert.equal(found.partitions, 3);
    assert.equal(asked.filter((o) => o === "root" || o === "groups").length, 2);
    assert.ok(asked.filter((o) => o === "elements").length <= 2, `${asked}`);
  });

  test("a few shared partitions: their digests asked at once, no root over a bitmap", async () => {
    const ours = new ObjectDigests();
    const theirs = new ObjectDigests();
    const ids = [idIn(7), idIn(7), idIn(9000), idIn(300)];
    for (const id of ids) {
      ours.held("chunk", id, id);
      theirs.held("chunk", id, id);
    }
    const shared = new PartitionSet();
    for (const p of [7, 9000, 12]) shared.add(p);
    const asked: string[] = [];
    const remote = peer(theirs, TREES.chunk, asked);
    assert.deepEqual(await compareTree(ours.chunks, remote, shared), { ours: [], theirs: 0, partitions: 0 });
    assert.deepEqual(asked, ["partitions"]);
    theirs.gone("chunk", ids[2]!);
    theirs.gone("chunk", ids[3]!); // partition 300 is not shared: not seen
    asked.length = 0;
    const found = await compareTree(ours.chunks, remote, shared);
    assert.deepEqual(found, { ours: [ids[2]], theirs: 0, partitions: 1 });
    assert.deepEqual(asked, ["partitions"], "they hold nothing there: no element list needed");
  });

  test("the same element in another tree number is unknown: DFS_ERR_NOT_FOUND", () => {
    assert.throws(
      () => answerSync(new ObjectDigests(), { op: "root", tree: 9, set: ALL.bytes }),
      (e) => isDfsError(e, "DFS_ERR_NOT_FOUND"),
    );
  });
});

describe("finding repair's work", () => {
  const nodes = ["a", "b", "c", "d"].map((id) => ({ id, addr: `${id}:1`, zone: "z", capacityBytes: 1 }));
  const live = new Set(nodes.map((n) => n.addr));

  test("differences with each peer over the partitions both own, hand-offs, an older peer, one unreachable", async () => {
    // c is an older node: its record offers no "sync".
    const layout = new Layout({ nodes, live, withoutSync: new Set(["c:1"]) }, "a:1", 3);
    const mine = new ObjectDigests();
    const peers = new Map(["b:1", "c:1", "d:1"].map((addr) => [addr, new ObjectDigests()]));
    const owners = (id: string) =>
      layout.placement
        .owners(id, 3)
        .map((n) => n.addr)
        .sort();
    // 400 manifests, each on its owners; then one version differs with b, one is missing on b,
    // one partition a does not own holds an object of a's.
    const ids = Array.from({ length: 400 }, randomId);
    for (const id of ids) {
      for (const addr of owners(id))
        (addr === "a:1" ? mine : peers.get(addr)!).held("manifest", id, sha256(Buffer.from(id)));
    }
    const withB = ids.filter((id) => owners(id).includes("a:1") && owners(id).includes("b:1"));
    const [changed, lost] = withB;
    peers.get("b:1")!.held("manifest", changed!, sha256(Buffer.from("other")));
    peers.get("b:1")!.gone("manifest", lost!);
    const stray = ids.find((id) => !owners(id).includes("a:1"))!;
    mine.held("manifest", stray, sha256(Buffer.from(stray)));
    const sync = async (addr: string, request: SyncRequest) => {
      if (addr === "c:1") assert.fail("a SYNC sent to a node that does not offer it");
      if (addr === "d:1") throw new DfsError("DFS_ERR_UNAVAILABLE");
      const answer = SyncRes.decode(request, SyncRes.encode(answerSync(peers.get(addr)!, request)));
      return { answer, bytes: 0 } as never;
    };
    const work = await findWork(
      { digests: mine, nodes: { sync }, logger: testLogger(), signal: new AbortController().signal },
      layout,
    );
    const withC = ids.filter((id) => owners(id).includes("a:1") && owners(id).includes("c:1"));
    assert.deepEqual(
      [...work.differing.manifest].sort(),
      [...new Set([changed!, lost!, ...withC])].sort(),
      "differing with b, and every id shared with c (asked nothing)",
    );
    assert.deepEqual(work.handoff.manifest, [stray]);
    assert.deepEqual([...work.failed], ["d:1"]);
    assert.equal(work.differences, 3, "ours changed and lost, theirs changed");
  });
  describe("a peer that does not answer", () => {
    useMockTime();

    test("its SYNC fails after PEER_ANSWER_MS, not the request timeout; the others are compared", async () => {
      const layout = new Layout({ nodes, live }, "a:1", 3);
      const mine = new ObjectDigests();
      // A chunk a:1 and c:1 both own: c:1 lacks it.
      const owns = (id: string, addr: string) => layout.placement.owners(id, 3).some((n) => n.addr === addr);
      let id = randomId();
      while (!owns(id, "a:1") || !owns(id, "c:1")) id = randomId();
      mine.held("chunk", id, sha256(Buffer.from(id)));
      const empty = new ObjectDigests();
      const sync = (addr: string, request: SyncRequest) => {
        // b:1 is cut off: its answer never comes.
        if (addr === "b:1") return new Promise<never>(() => {});
        const answer = SyncRes.decode(request, SyncRes.encode(answerSync(empty, request)));
        return Promise.resolve({ answer, bytes: 0 } as never);
      };
      const found = findWork(
        { digests: mine, nodes: { sync }, logger: testLogger(), signal: new AbortController().signal },
        layout,
      );
      await advance(PEER_ANSWER_MS - 1);
      assert.equal(await settled(found), false, "gave up on b:1 early");
      await advance(1);
      const work = await found;
      assert.deepEqual([...work.failed], ["b:1"]);
      assert.ok(work.differing.chunk.has(id), "compared with c:1 all the same");
    });
  });
});
