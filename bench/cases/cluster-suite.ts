import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { dfsEntry } from "../lib/dfs.ts";
import type { BenchCase } from "../lib/measure.ts";
import type { BenchOptions } from "../lib/options.ts";
import {
  bounded,
  headline,
  medianOf,
  peakRss,
  type Results,
  type Row,
  versus,
  type Warmups,
} from "../lib/report.ts";
import { type CeilingCases, startCeilings } from "./ceilings.ts";
import { type BenchCluster, startBenchCluster } from "./cluster.ts";
import { type GatewayCases, gatewayCases } from "./gateway.ts";
import { S3_BUCKET, type S3Cases, s3Access, s3Cases } from "./s3.ts";
import { LIST_BUCKET, listCase } from "./s3-list.ts";
import type { CaseKey, Suite, SuiteContext } from "./suite.ts";
import { type TableCases, tableCases } from "./tables.ts";

/** The targets of the cluster suite (see bench/README.md). */
export const TARGETS = {
  uploadOfChain: 0.6,
  downloadOfFastifyFile: 0.7,
  smallUploadsPerSecond: 500,
  smallUploadP99Ms: 100,
  smallDownloadsPerSecond: 3000,
  gatewayRssMiB: 200,
  nodeRssMiB: 150,
  /** S3 PutObject and GetObject of the largest size against /v1's PUT and GET: within 10%. */
  s3LargeOfV1: 0.9,
  s3SmallUploadsOfV1: 0.8,
  s3ListKeysPerSecond: 20_000,
};
const NODES = 3;
/** Range reads of 1,000 table records per run: one per 40 small files (50 by default), at least 2. */
const tableRanges = (o: BenchOptions) => Math.max(2, Math.round(o.small / 40));
/** Table cases run on the cluster's nodes, ceilings included (one node of the same cluster). */
const TABLE_KEYS = ["tbl-write", "tbl-write-1", "tbl-read", "tbl-read-1", "tbl-range", "tbl-range-1"];

const S3_KEYS = (o: BenchOptions) => [
  ...o.sizes.flatMap((s) => [`s3-put-${s}`, `s3-put-signed-${s}`, `key-put-${s}`, `s3-get-${s}`]),
  "s3-small-put",
  "key-small-put",
  "s3-list",
];

const v1Keys = (o: BenchOptions) => [
  ...o.sizes.flatMap((s) => [`gw-put-${s}`, `gw-post-${s}`, `gw-get-${s}`]),
  "gw-small-put",
  "gw-small-get",
  ...TABLE_KEYS,
  ...(o.big ? ["big-put", "big-get"] : []),
];
const ours = (o: BenchOptions) => [...v1Keys(o), ...S3_KEYS(o)];
const ceilings = (o: BenchOptions) => [
  ...o.sizes.flatMap((s) => [`chain3-${s}`, `fastify-put-${s}`, `fastify-post-${s}`, `fastify-file-${s}`]),
  "fastify-small-put",
  "fastify-small-get",
];

export function clusterSuiteKeys(o: BenchOptions): CaseKey[] {
  return [...ours(o), ...ceilings(o)].map((key) => ({ key, group: "cluster" }));
}

/** Peak RSS of the gateway and of the largest node over some cases: bounded rows. */
function rssRows(cases: BenchCase[], what: string, results: Results, warmups: Warmups): Row[] {
  const ran = cases.filter((c) => (results[c.key]?.length ?? 0) > 0);
  if (ran.length === 0) return [];
  const peaks = ran.map((c) => peakRss(c, results, warmups));
  const max = (roles: string[]) => Math.max(...peaks.flatMap((p) => roles.map((r) => p[r] ?? 0)));
  const nodeRoles = Array.from({ length: NODES }, (_, i) => `node-${i + 1}`);
  return [
    bounded(`gateway peak RSS, ${what}`, max(["gateway"]), TARGETS.gatewayRssMiB, "MiB", "max"),
    bounded(`largest node peak RSS, ${what}`, max(nodeRoles), TARGETS.nodeRssMiB, "MiB", "max"),
  ];
}

/**
 * The cluster suite: a local cluster (Redis under Sentinel, 3 `dfs node` with fsync on, R = 3, one
 * `dfs gateway`) driven over HTTP by undici in this process, beside its ceilings. Only the processes
 * the selected cases need are started.
 */
export async function clusterSuite({ root, opts, nodeFlags, wanted }: SuiteContext): Promise<Suite> {
  const any = (keys: string[]) => keys.some((k) => wanted(k, "cluster"));
  let cluster: BenchCluster | undefined;
  let s3Cluster: BenchCluster | undefined;
  let gw: GatewayCases | undefined;
  let tables: TableCases | undefined;
  let ceil: CeilingCases | undefined;
  let s3: S3Cases | undefined;
  let list: ReturnType<typeof listCase> | undefined;
  const listOptions = { keys: opts.listKeys, page: opts.listPage };
  const close = async () => {
    await gw?.close();
    await s3?.close();
    await list?.close();
    await tables?.close();
    await ceil?.close();
    await cluster?.close();
    await s3Cluster?.close();
  };
  try {
    // Both clusters run with an API key, as production does: /v1 requests carry it, S3 signatures
    // are checked. The S3 cases get a cluster of their own, so what they leave in the processes
    // (RSS) does not reach the /v1 cases' figures; their /v1 twins run alongside, taking turns.
    const clusterOptions = {
      nodes: NODES,
      nodeFlags: [...nodeFlags, ...opts.clusterFlags],
      entry: dfsEntry(opts.from),
      access: true,
    };
    if (any(v1Keys(opts))) {
      cluster = await startBenchCluster(root, clusterOptions);
      gw = gatewayCases(cluster, {
        sizesMib: opts.sizes,
        small: opts.small,
        connections: opts.connections,
        bigMib: opts.big ? opts.bigMib : undefined,
      });
      tables = tableCases(cluster, {
        records: opts.small,
        ranges: tableRanges(opts),
        connections: opts.connections,
      });
    }
    if (any(S3_KEYS(opts))) {
      const s3Root = join(root, "s3");
      await mkdir(s3Root, { recursive: true });
      s3Cluster = await startBenchCluster(s3Root, clusterOptions);
      const credentials = await s3Access(s3Cluster, [S3_BUCKET, LIST_BUCKET]);
      s3 = s3Cases(s3Cluster, credentials, {
        sizesMib: opts.sizes,
        small: opts.small,
        connections: opts.connections,
      });
      list = listCase(s3Cluster, credentials, listOptions);
    }
    if (any(ceilings(opts))) {
      ceil = await startCeilings(root, {
        sizesMib: opts.sizes,
        small: opts.small,
        connections: opts.connections,
        inflight: opts.inflight,
        nodeFlags,
      });
    }
  } catch (err) {
    await close();
    throw err;
  }

  const largest = Math.max(...opts.sizes);
  const cases: BenchCase[] = [];
  opts.sizes.forEach((_mib, i) => {
    const g = gw?.large[i];
    const c = ceil?.large[i];
    const s = s3?.large[i];
    for (const x of [
      c?.chain,
      g?.put,
      s?.put,
      s?.putSigned,
      s?.keyPut,
      c?.put,
      g?.post,
      c?.post,
      g?.get,
      s?.get,
      c?.file,
    ]) {
      if (x) cases.push(x);
    }
  });
  for (const x of [gw?.smallPut, s3?.smallPut, s3?.keySmallPut, ceil?.smallPut, gw?.smallGet, ceil?.smallGet])
    if (x) cases.push(x);
  if (tables) {
    const t = tables;
    cases.push(t.write, t.write1, t.read, t.read1, t.range, t.range1);
  }
  if (list) cases.push(list.list);
  if (gw?.big) cases.push(gw.big.put, gw.big.get);

  /**
   * Each S3 case beside its /v1 twin (uploads: the same upload to a /v1 key, which also makes an
   * MD5 ETag and a key record; downloads: a /v1 download) against the target, and beside the /v1
   * upload by hash for reference; the listing against its fixed target in keys per second.
   */
  const s3Rows = (results: Results): (Row | undefined)[] => {
    const out: (Row | undefined)[] = [];
    opts.sizes.forEach((mib, i) => {
      const g = gw?.large[i];
      const s = s3?.large[i];
      if (!s) return;
      const t = mib === largest ? TARGETS.s3LargeOfV1 : undefined;
      out.push(versus(results, s.put, s.keyPut, t), versus(results, s.putSigned, s.put));
      if (g) out.push(versus(results, s.put, g.put), versus(results, s.get, g.get, t));
    });
    if (s3) out.push(versus(results, s3.smallPut, s3.keySmallPut, TARGETS.s3SmallUploadsOfV1));
    if (gw && s3) out.push(versus(results, s3.smallPut, gw.smallPut));
    const listed = list && results[list.list.key];
    if (list && listed?.length) {
      const keysPerSecond = opts.listKeys / medianOf(listed, (m) => m.seconds);
      out.push(bounded(list.list.label, keysPerSecond, TARGETS.s3ListKeysPerSecond, "keys/s", "min"));
    }
    return out;
  };

  const rows = (results: Results, warmups: Warmups): (Row | undefined)[] => {
    const out: (Row | undefined)[] = [];
    const has = (c: BenchCase | undefined): c is BenchCase =>
      c !== undefined && (results[c.key]?.length ?? 0) > 0;
    opts.sizes.forEach((mib, i) => {
      const g = gw?.large[i];
      const c = ceil?.large[i];
      if (!g || !c) return;
      const t = (ratio: number) => (mib === largest ? ratio : undefined);
      out.push(
        versus(results, g.put, c.chain, t(TARGETS.uploadOfChain)),
        versus(results, g.post, c.chain, t(TARGETS.uploadOfChain)),
        versus(results, g.put, c.put),
        versus(results, g.post, c.post),
        versus(results, g.get, c.file, t(TARGETS.downloadOfFastifyFile)),
      );
    });
    if (gw && ceil) {
      out.push(versus(results, gw.smallPut, ceil.smallPut), versus(results, gw.smallGet, ceil.smallGet));
    }
    if (has(gw?.smallPut)) {
      const runs = results[gw.smallPut.key]!;
      out.push(
        bounded(gw.smallPut.label, headline(runs).value, TARGETS.smallUploadsPerSecond, "req/s", "min"),
        bounded(
          `${gw.smallPut.label}: p99`,
          medianOf(runs, (m) => m.requests!.p99Ms),
          TARGETS.smallUploadP99Ms,
          "ms",
          "max",
        ),
      );
    }
    if (has(gw?.smallGet)) {
      const runs = results[gw.smallGet.key]!;
      out.push(
        bounded(gw.smallGet.label, headline(runs).value, TARGETS.smallDownloadsPerSecond, "req/s", "min"),
      );
    }
    out.push(...s3Rows(results));
    if (tables) {
      out.push(
        versus(results, tables.write, tables.write1),
        versus(results, tables.read, tables.read1),
        versus(results, tables.range, tables.range1),
      );
    }
    const big = gw?.large.find((l) => l.mib === largest);
    if (big) out.push(...rssRows([big.put, big.post, big.get], `${largest} MiB transfers`, results, warmups));
    const s3Big = s3?.large.find((l) => l.mib === largest);
    if (s3Big) out.push(...rssRows([s3Big.put, s3Big.get], `S3 ${largest} MiB transfers`, results, warmups));
    if (gw?.big)
      out.push(...rssRows([gw.big.put, gw.big.get], `${opts.bigMib} MiB transfers`, results, warmups));
    return out;
  };

  return {
    cases,
    // A getter: the listing's bucket is filled when its case first runs.
    get describe() {
      const fillSeconds = list?.fillSeconds();
      return [
        `cluster suite: ${NODES} nodes (fsync on, background work on its default periods as npm start runs it), R = 3, W = 2, 1 MiB chunks, gateway defaults ` +
          `(4 chunks in flight), Redis under 3 Sentinels; files of ${opts.sizes.join(" and ")} MiB, each ` +
          "upload new bytes; downloads hashed by the client and checked; raw chain with " +
          `${opts.inflight} connections; ${opts.small} files of 4 KiB at ${opts.connections} at a time ` +
          `(undici Pool of ${opts.connections} connections); table records of 100 bytes, ${opts.small} ` +
          `single-record writes then reads ${opts.connections} at a time, ${tableRanges(opts)} range reads of 1,000 records ` +
          "(a TableClient in the bench process, with a gateway credential)" +
          (opts.big ? `; once: ${opts.bigMib} MiB PUT and GET` : "") +
          (s3
            ? "; gateways with an API key (/v1 requests carry it); the S3 cases on a second, identical " +
              "cluster, SigV4-signed by an access key granted on the bench buckets (large bodies " +
              "UNSIGNED-PAYLOAD, 4 KiB bodies with their SHA-256 signed)"
            : "") +
          (fillSeconds === undefined
            ? ""
            : `; ${LIST_BUCKET} filled before its first run with ${opts.listKeys} keys (one empty PUT, its key ` +
              `record copied under the others by table writes) in ${fillSeconds.toFixed(1)} s`) +
          (opts.clusterFlags.length ? `; gateway and nodes run with ${opts.clusterFlags.join(" ")}` : ""),
      ];
    },
    rows,
    close,
  };
}
