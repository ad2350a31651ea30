/** What the Sentinels of a topology say, and whether the topology is healthy. */
import { type RedisProcess, redisCommand } from "./redis-process.ts";

/** The processes of one topology, by port, and the name its Sentinels monitor. */
export interface Members {
  readonly masterName: string;
  readonly processes: ReadonlyMap<number, RedisProcess>;
}

const running = (m: Members, kind: RedisProcess["kind"]) =>
  [...m.processes.values()].filter((p) => p.kind === kind && p.pid !== undefined);

/** "host:port" of the master -> how many running Sentinels name it (a stopped or frozen one does not vote). */
export async function sentinelVotes(m: Members): Promise<Map<string, number>> {
  const votes = new Map<string, number>();
  await Promise.all(
    running(m, "sentinel").map(async (s) => {
      try {
        const reply = await redisCommand(s.port, "SENTINEL", "get-master-addr-by-name", m.masterName);
        if (Array.isArray(reply)) {
          const key = `${reply[0]}:${reply[1]}`;
          votes.set(key, (votes.get(key) ?? 0) + 1);
        }
      } catch {
        // no vote
      }
    }),
  );
  return votes;
}

function fields(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

function info(text: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of String(text).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/**
 * "" when every running Sentinel agrees on a master that is up and not failing over, and every
 * running replica replicates it with its link up; else what is wrong (for a timeout's message).
 */
export async function unhealthyReason(m: Members): Promise<string> {
  const votes = await sentinelVotes(m);
  const liveSentinels = running(m, "sentinel");
  if (votes.size !== 1) return `sentinels disagree or do not answer: ${JSON.stringify([...votes])}`;
  const [addr, count] = [...votes.entries()][0]!;
  if (count !== liveSentinels.length) return `${liveSentinels.length - count} sentinel(s) did not answer`;
  const masterPort = Number(addr.split(":")[1]);
  if (m.processes.get(masterPort)?.pid === undefined) return `sentinels name ${addr}, which is not running`;
  const liveReplicas = running(m, "data")
    .map((p) => p.port)
    .filter((p) => p !== masterPort);
  for (const s of liveSentinels) {
    const master = fields(await redisCommand(s.port, "SENTINEL", "master", m.masterName));
    if (master.flags !== "master") return `sentinel ${s.port} sees master flags ${master.flags}`;
    if (Number(master["num-other-sentinels"]) < liveSentinels.length - 1) {
      return `sentinel ${s.port} knows ${master["num-other-sentinels"]} other sentinels`;
    }
    const replicas = (await redisCommand(s.port, "SENTINEL", "replicas", m.masterName)) as unknown[];
    for (const port of liveReplicas) {
      const r = replicas.map(fields).find((x) => Number(x.port) === port);
      // Not master-link-status: Sentinel refreshes a replica's INFO only every 10 s, so it lags; the
      // replica's own INFO below is the truth, and Sentinel polls every second once a master is down.
      if (r?.flags !== "slave") {
        return `sentinel ${s.port} sees replica ${port} as ${r ? r.flags : "unknown"}`;
      }
    }
  }
  const role = info(await redisCommand(masterPort, "INFO", "replication"));
  if (role.role !== "master") return `${masterPort} reports role ${role.role}`;
  for (const port of liveReplicas) {
    const r = info(await redisCommand(port, "INFO", "replication"));
    if (r.role !== "slave" || Number(r.master_port) !== masterPort || r.master_link_status !== "up") {
      return `replica ${port}: role ${r.role} master ${r.master_port} link ${r.master_link_status}`;
    }
  }
  return "";
}
