import { dfsEntry } from "../lib/dfs.ts";
import { PIECE_BYTES } from "../lib/options.ts";
import { versus } from "../lib/report.ts";
import { startBaselines } from "./baselines.ts";
import { startNodeCases } from "./node.ts";
import type { CaseKey, Suite, SuiteContext } from "./suite.ts";

const KEYS = [
  "node-put-1",
  "socket-put",
  "hop1-files",
  "node-put-3",
  "chain3-files",
  "node-get-1",
  "socket-get",
];

export function nodeSuiteKeys(): CaseKey[] {
  return KEYS.map((key) => ({ key, group: "node" }));
}

/**
 * The node-level suite: three `dfs node` processes driven by a NodeClient in this process, against
 * a socket pair and a 3-hop chain of plain node:net hops writing files.
 */
export async function nodeSuite({ root, opts, nodeFlags }: SuiteContext): Promise<Suite> {
  const base = await startBaselines(root, opts.inflight, nodeFlags);
  const nodes = await startNodeCases(root, {
    inflight: opts.inflight,
    freshIds: opts.freshIds,
    nodeFlags,
    entry: dfsEntry(opts.from),
  });
  return {
    cases: [
      nodes.put1,
      base.socketPut,
      base.hop1Files,
      nodes.put3,
      base.chain3Files,
      nodes.get1,
      base.socketGet,
    ],
    describe: [
      `node suite: ${opts.mib} MiB per case and run in ${PIECE_BYTES / 1024 / 1024} MiB pieces; ` +
        `${opts.inflight} requests in flight (NodeClient, default pool) / ${opts.inflight} connections ` +
        "(baselines); nodes fsync every chunk, baseline hops every 1 MiB file; chunk ids " +
        (opts.freshIds ? "new every run" : "the warm-up's, rewritten every run (directories exist)"),
    ],
    rows: (results) => [
      versus(results, nodes.put1, base.socketPut),
      versus(results, nodes.put1, base.hop1Files),
      versus(results, nodes.put3, base.chain3Files, 0.7),
      versus(results, nodes.get1, base.socketGet, 0.5),
    ],
    close: () => nodes.close(),
  };
}
