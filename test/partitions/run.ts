/**
 * A partition run from the machine's own namespace: makes the hosts, starts inside.ts on the
 * clients' host, waits for it (killed by pid past a deadline), then removes every namespace and
 * what still runs in them, also when the run failed or this process exits. Leaves the report (in
 * markdown), the history and the processes' warnings in test-results/partitions/.
 */
import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../helpers/proc.ts";
import { HOST_NAMES, REPORT_DIR } from "./cluster.ts";
import { createHosts, hostsUnavailable, removeHosts, removeHostsSync, runTag } from "./hosts.ts";
import type { RunResult } from "./inside.ts";

export interface RunOptions {
  seed: number;
  /** 0: the short schedule (every fault once); else a random schedule of this many minutes. */
  minutes: number;
  /** The run is killed past this. */
  timeoutMs: number;
  /** Each line the run prints. */
  log?: (line: string) => void;
}

export type RunOutcome = { skipped: string } | { skipped?: undefined; result: RunResult; output: string };

export async function runPartitions(o: RunOptions): Promise<RunOutcome> {
  const why = await hostsUnavailable();
  if (why) return { skipped: `network namespaces cannot be made here: ${why}` };
  const tag = runTag();
  await rm(REPORT_DIR, { recursive: true, force: true });
  const onExit = () => removeHostsSync(tag);
  process.on("exit", onExit);
  const dir = await mkdtemp(join(tmpdir(), `dfs-partitions-${tag}-`));
  const out = join(dir, "result.json");
  let output = "";
  try {
    const hosts = await createHosts(tag, HOST_NAMES);
    const inside = resolve(REPO_ROOT, "test/partitions/inside.ts");
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        hosts.get("cl").ns,
        process.execPath,
        inside,
        tag,
        dir,
        String(o.seed),
        String(o.minutes),
        out,
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    const take = (d: Buffer) => {
      const text = d.toString("utf8");
      output = (output + text).slice(-256 * 1024);
      for (const line of text.split("\n")) if (line.trim()) o.log?.(line);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`the run exited with ${code}:\n${output.slice(-8000)}`);
    const result = JSON.parse(await readFile(out, "utf8")) as RunResult;
    await mkdir(REPORT_DIR, { recursive: true });
    await writeFile(join(REPORT_DIR, "report.md"), reportText(result));
    await copyFile(join(dir, "history.json"), join(REPORT_DIR, "history.json"));
    return { result, output };
  } finally {
    await removeHosts(tag);
    process.off("exit", onExit);
    await rm(dir, { recursive: true, force: true });
  }
}

export function reportText(r: RunResult): string {
  const copies = r.finalCopiesMs === undefined ? "not reached" : `${(r.finalCopiesMs / 1000).toFixed(1)} s`;
  return [
    `# Partition run, seed ${r.seed}`,
    "",
    `${r.schedule.length} faults, ${r.ops} operations, ${r.anomalies.length} anomalies, ${r.lostOrCorrupt} acknowledged uploads lost or corrupted.`,
    `Every file back at R copies ${copies} after the last read-back (bound ${(r.copiesDeadlineMs / 1000).toFixed(1)} s).`,
    `With one node partitioned, stopped or killed: ${r.oneNode.ok} of ${r.oneNode.total} uploads and downloads succeeded.`,
    ...r.failovers.map(
      (f) =>
        `${f.name}: the Sentinels named a new master ${f.ms === undefined ? "not within the fault" : `${(f.ms / 1000).toFixed(1)} s after the cut`}.`,
    ),
    "",
    r.table,
    "",
    ...r.anomalies,
    "",
  ].join("\n");
}
