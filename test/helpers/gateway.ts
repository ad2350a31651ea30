/**
 * Shared by the gateway tests: a real cluster (Redis under Sentinel, `dfs node` processes), gateways
 * (real `dfs gateway` processes, or in-process apps listening on real sockets), an undici client,
 * and a small validator of responses against openapi.yaml.
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { FormData, request } from "undici";
import { parse } from "yaml";
import { type GatewayConfig, loadGatewayConfig } from "../../src/config/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type NodeProc, startNode, TEST_AUTHORITY_KEY, TEST_SECRET } from "./cluster.ts";
import { CLI, type Proc, REPO_ROOT, startProcess } from "./proc.ts";
import { startTopology, type Topology } from "./redis-topology.ts";
import { testLogger, waitFor } from "./registry.ts";
import { makeTempDir } from "./tmp.ts";

export { waitFor } from "./registry.ts";

export const TEST_KEY = "5f".repeat(32);
export const SMALL_CHUNK = 64 * 1024;

export interface Cluster {
  topology: Topology;
  root: string;
  nodes: NodeProc[];
  /** Flags that point a gateway or node at the registry. */
  registryArgs: string[];
  registryEnv: NodeJS.ProcessEnv;
  /** Starts node `index` (again) on its data dir; `port` to keep its address. */
  startNode(index: number, port?: number): Promise<NodeProc>;
  stop(): Promise<void>;
}

/**
 * One Redis topology and `count` storage nodes registered in it; `nodeEnv` goes to every node.
 * `prepare` fills a node's data directory before its first start (a folder from older code, say).
 */
export async function startCluster(
  count: number,
  prefix: string,
  nodeEnv: NodeJS.ProcessEnv = {},
  prepare?: (dataDir: string, index: number) => Promise<void>,
): Promise<Cluster> {
  const topology = await startTopology();
  const tmp = await makeTempDir("dfs-gw-");
  const registryArgs = [
    "--sentinels",
    topology.sentinels.map((s) => `${s.host}:${s.port}`).join(","),
    "--master-name",
    topology.masterName,
    "--redis-prefix",
    prefix,
  ];
  const registryEnv = { DFS_HEARTBEAT_MS: "200", DFS_HEARTBEAT_TTL_MS: "2000" };
  /** Every node this cluster started: stop() ends them all, even those a failed test never listed. */
  const spawned = new Set<NodeProc>();
  const start = async (i: number, port?: number) => {
    const dataDir = join(tmp.path, `node-${i}`);
    await mkdir(dataDir, { recursive: true });
    const node = await startNode({
      dataDir,
      port,
      args: registryArgs,
      env: { ...registryEnv, DFS_FSYNC: "false", ...nodeEnv },
    });
    spawned.add(node);
    return node;
  };
  const cluster: Cluster = {
    topology,
    root: tmp.path,
    nodes: [],
    registryArgs,
    registryEnv,
    startNode: start,
    async stop() {
      await Promise.all([...new Set([...cluster.nodes, ...spawned])].map((n) => n.stop("SIGKILL")));
      await topology.stopAll();
      await tmp.remove();
    },
  };
  try {
    if (prepare) {
      for (let i = 0; i < count; i++) await prepare(join(tmp.path, `node-${i}`), i);
    }
    // allSettled: the nodes that did start are stopped below when another one failed to.
    const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i)));
    cluster.nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export interface Gateway {
  url: string;
  stop(): Promise<void>;
}

/** A gateway's environment: the test secrets and keys, the cluster's registry timings, then `env`. */
function gatewayEnv(cluster: Cluster, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    DFS_CLUSTER_SECRET: TEST_SECRET,
    DFS_AUTHORITY_KEY: TEST_AUTHORITY_KEY,
    DFS_CLUSTER_KEY: TEST_KEY,
    ...cluster.registryEnv,
    ...env,
  };
}

/** A real `dfs gateway` process. */
export async function startGatewayProcess(
  cluster: Cluster,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Gateway & { proc: Proc }> {
  const proc = startProcess([CLI, "gateway", "--listen", "127.0.0.1:0", ...cluster.registryArgs, ...args], {
    env: gatewayEnv(cluster, env),
  });
  try {
    const line = await proc.waitForLog((l) => l.msg === "gateway listening");
    return { proc, url: `http://${String(line.address)}`, stop: async () => void (await proc.stop()) };
  } catch (err) {
    await proc.stop("SIGKILL");
    throw err;
  }
}

/** A gateway in this process (its config through the same loader), on a real socket. */
export async function startGatewayInProcess(
  cluster: Cluster,
  flags: Record<string, string | boolean> = {},
  env: NodeJS.ProcessEnv = {},
  now?: () => number,
): Promise<Gateway & { running: RunningGateway; config: GatewayConfig }> {
  const [, sentinels, , masterName, , prefix] = cluster.registryArgs;
  const config = loadGatewayConfig({
    env: gatewayEnv(cluster, env),
    flags: { listen: "127.0.0.1:0", sentinels, "master-name": masterName, "redis-prefix": prefix, ...flags },
  });
  const running = await startGateway(config, testLogger(), { now });
  return { running, config, url: `http://${running.address}`, stop: () => running.close(5000) };
}

/** Waits until the gateway's view has `count` live nodes. */
export async function waitLive(
  url: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<void> {
  await waitFor(
    async () => {
      const res = await request(`${url}/v1/nodes`, { headers });
      const body = (await res.body.json()) as { nodes: { state: string }[] };
      return body.nodes.filter((n) => n.state === "live").length === count;
    },
    15_000,
    `${count} live nodes in the view of ${url}`,
  );
}

// ---------------------------------------------------------------------------------------------
// A small validator of responses against openapi.yaml: the status must be documented (or covered
// by `default`), the content type listed, required headers present, and JSON bodies must match
// their schema (the JSON Schema subset the spec uses).

type Schema = Record<string, unknown>;
const spec = parse(readFileSync(join(REPO_ROOT, "openapi.yaml"), "utf8")) as Schema;

function resolve(node: unknown): Schema {
  let n = node as Schema;
  while (typeof n.$ref === "string") {
    n = n.$ref
      .slice(2)
      .split("/")
      .reduce<Schema>((acc, key) => acc[key] as Schema, spec);
  }
  return n;
}

function validate(value: unknown, schemaNode: unknown, path: string, errors: string[]): void {
  const s = resolve(schemaNode);
  const t = s.type as string | undefined;
  const actual =
    value === null
      ? "null"
      : Array.isArray(value)
        ? "array"
        : Number.isInteger(value)
          ? "integer"
          : typeof value;
  if (t !== undefined && !(t === actual || (t === "number" && actual === "integer"))) {
    errors.push(`${path}: expected ${t}, got ${actual}`);
    return;
  }
  if (s.const !== undefined && value !== s.const) errors.push(`${path}: expected ${String(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.includes(value)) errors.push(`${path}: ${String(value)} not in enum`);
  if (typeof value === "string") {
    if (typeof s.pattern === "string" && !new RegExp(s.pattern).test(value)) {
      errors.push(`${path}: "${value}" does not match ${s.pattern}`);
    }
    if (s.format === "date-time" && Number.isNaN(Date.parse(value))) errors.push(`${path}: not a date-time`);
    if (typeof s.maxLength === "number" && value.length > s.maxLength) errors.push(`${path}: too long`);
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) errors.push(`${path}: below ${s.minimum}`);
    if (typeof s.maximum === "number" && value > s.maximum) errors.push(`${path}: above ${s.maximum}`);
  }
  if (actual === "object") {
    const obj = value as Record<string, unknown>;
    for (const key of (s.required as string[] | undefined) ?? []) {
      if (!(key in obj)) errors.push(`${path}: missing required "${key}"`);
    }
    const props = (s.properties as Record<string, unknown> | undefined) ?? {};
    for (const [key, sub] of Object.entries(props)) {
      if (key in obj) validate(obj[key], sub, `${path}.${key}`, errors);
    }
  }
  if (actual === "array" && s.items !== undefined) {
    for (const [i, v] of (value as unknown[]).entries()) validate(v, s.items, `${path}[${i}]`, errors);
  }
}

/** The operation of a concrete path: matches templates like /v1/files/{hash}. */
function operation(method: string, path: string): Schema {
  const paths = spec.paths as Record<string, Schema>;
  for (const [template, item] of Object.entries(paths)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    if (re.test(path)) {
      const op = item[method.toLowerCase()];
      if (op) return op as Schema;
    }
  }
  throw new Error(`openapi.yaml has no operation ${method} ${path}`);
}

export interface Observed {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON for JSON bodies, else undefined. */
  json?: unknown;
}

/** Problems of one response against openapi.yaml; [] when it conforms. */
export function conformance(r: Observed): string[] {
  const errors: string[] = [];
  const op = operation(r.method, r.path.split("?")[0]!);
  const responses = op.responses as Record<string, unknown>;
  const declared = responses[String(r.status)] ?? responses.default;
  const where = `${r.method} ${r.path} -> ${r.status}`;
  if (declared === undefined) return [`${where}: status not documented`];
  const response = resolve(declared);
  for (const [name, h] of Object.entries((response.headers as Record<string, unknown>) ?? {})) {
    if (resolve(h).required === true && r.headers[name.toLowerCase()] === undefined) {
      errors.push(`${where}: missing required header ${name}`);
    }
  }
  const content = response.content as Record<string, Schema> | undefined;
  const type = String(r.headers["content-type"] ?? "")
    .split(";")[0]!
    .trim();
  if (content && r.method !== "HEAD" && r.status !== 304) {
    const media = content[type] ?? content["*/*"];
    if (!media) errors.push(`${where}: content type "${type}" not documented`);
    else if (r.json !== undefined && media.schema) validate(r.json, media.schema, where, errors);
  }
  if (r.status >= 400 && r.method !== "HEAD" && type !== "application/problem+json") {
    errors.push(`${where}: an error must be application/problem+json, got ${type}`);
  }
  return errors;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: unknown;
}

/**
 * One HTTP request with undici; the whole answer is read, then checked against openapi.yaml (a
 * nonconforming answer throws, so every test that uses this checks the contract too).
 */
export async function http(
  base: string,
  method: "GET" | "HEAD" | "POST" | "PUT" | "DELETE",
  path: string,
  options: {
    body?: Parameters<typeof request>[1] extends infer O ? (O extends { body?: infer B } ? B : never) : never;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const res = await request(`${base}${path}`, { method, body: options.body, headers: options.headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  const type = String(res.headers["content-type"] ?? "");
  const json =
    /json/.test(type) && body.length > 0 ? (JSON.parse(body.toString("utf8")) as unknown) : undefined;
  const errors = conformance({ method, path, status: res.statusCode, headers: res.headers, json });
  if (errors.length > 0) throw new Error(`response does not conform to openapi.yaml:\n${errors.join("\n")}`);
  return { status: res.statusCode, headers: res.headers, body, json };
}

export function multipart(data: Buffer, name = "file.bin", type = "application/octet-stream"): FormData {
  const form = new FormData();
  form.append("file", new Blob([data], { type }), name);
  return form;
}
