import { DfsError, toDfsError } from "../../errors.ts";
import type { ObjectKind, TableRecord } from "../../formats/index.ts";
import { type PutResult, SMALL_PUT_MAX_BYTES } from "../../transport/index.ts";
import type { GatewayContext } from "../context.ts";
import { timer } from "../hedge.ts";

/** True when `p` settles (either way) within `ms`. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(t);
      resolve(true);
    };
    p.then(done, done);
  });
}

export interface ReplicateOptions {
  kind: ObjectKind;
  /** For manifests: SHA-256 of the sealed bytes, which nodes verify instead of the id. */
  checksum?: string;
  /** Table records every node that stores the object keeps with it (a chunk's upload hold). */
  records?: readonly TableRecord[];
  signal: AbortSignal;
  /**
   * Called once every node request has answered, so every byte of `data` was sent and its buffer
   * may be reused: perhaps after replicate resolved. Not called when a request failed (its bytes
   * may still wait in a socket's queue: that buffer is left to the GC).
   */
  released?: () => void;
}

/**
 * Stores one object on its owners. Guarantee when it resolves: at least W distinct live nodes hold
 * it durably (fsynced and renamed); it resolves with their addresses.
 *
 * First the first R nodes of placement order are asked: a large object as a chain (the first
 * stores and forwards along the others, so the gateway sends its bytes once), a small one
 * (manifests, a file's short last chunk) straight to each of them at once. For a small object the
 * bytes are no cost, while a chain costs every hop a forward connection, a second socket write and
 * read, and a wait for the hops behind it; straight requests to a node from concurrent uploads go
 * out together in one write (src/transport/pool.ts). If fewer than W stored it, the missing copies are
 * sent straight (no chain, so every failure is the node's own) to the next nodes in placement order
 * (as far as a read looks: the read fan-out) that have not failed when asked directly, until W hold
 * it or no node is left: then DFS_ERR_INSUFFICIENT_REPLICAS. A node that only failed as part of a
 * chain (its upstream died, say) is asked again directly. Copies missing beyond W are left to the nodes' repair.
 *
 * A chain whose head has not answered within the learnt chain delay (src/gateway/hedge.ts) is not
 * waited for: the copies also go straight to the next owners, and the chain's answer counts when
 * it comes. A stopped or cut-off head then costs an upload that delay, not the request timeout.
 *
 * Straight requests resolve replicate as soon as W of them stored the object: the last owner's
 * fsync is then off the upload's path (the slowest of three fsyncs is often several times the
 * second slowest here). Its request goes on, and a failure of it is logged; repair covers it.
 */
export async function replicate(
  ctx: GatewayContext,
  id: string,
  data: Buffer,
  options: ReplicateOptions,
): Promise<string[]> {
  const { replicas, writeQuorum } = ctx.config;
  const order = ctx.placement.order(id);
  const stored = new Set<string>();
  const refused = new Set<string>(); // failed when asked directly: not asked again
  const silent = new Set<string>(); // a chain head still unanswered: its copy may yet come
  let chain: Promise<void> | undefined;
  let lastFailure: DfsError | undefined;
  const started: Promise<void>[] = [];
  let anyFailed = false;

  const put = async (head: string, forward: string[]): Promise<void> => {
    let result: PutResult;
    try {
      result = await ctx.nodes.put(head, id, data, data.length, {
        kind: options.kind,
        checksum: options.checksum,
        forward,
        records: options.records,
        signal: options.signal,
      });
      ctx.metrics.nodeOp("put", options.kind, true);
    } catch (err) {
      anyFailed = true;
      ctx.metrics.nodeOp("put", options.kind, false);
      if (options.signal.aborted) throw toDfsError(options.signal.reason ?? err, "DFS_ERR_CANCELLED");
      lastFailure = toDfsError(err);
      // A head whose registry view lags refused only the chain: it may still take a copy directly.
      if (lastFailure.code !== "DFS_ERR_FORWARD_REFUSED") refused.add(head);
      ctx.logger.warn({ kind: options.kind, id, addr: head, code: lastFailure.code, err }, "put failed");
      return;
    }
    for (const addr of result.stored) stored.add(addr);
    for (const f of result.failed) {
      if (f.addr === head) refused.add(head);
      lastFailure = new DfsError(f.code, `${f.addr}: ${f.message}`);
    }
    if (result.failed.length > 0) {
      ctx.logger.warn({ kind: options.kind, id, head, failed: result.failed }, "put stored fewer copies");
    }
  };

  const direct = async (addr: string): Promise<void> => {
    await put(addr, []);
    if (!stored.has(addr)) refused.add(addr);
  };
  /** Direct requests to `addrs`, awaited until W copies are stored or all of them answered. */
  const directUntilQuorum = (addrs: readonly string[]): Promise<void> => {
    const requests = addrs.map(direct);
    started.push(...requests);
    return new Promise<void>((resolve, reject) => {
      let left = requests.length;
      if (left === 0) resolve();
      for (const r of requests) {
        r.then(() => {
          left--;
          if (left === 0 || stored.size >= writeQuorum) resolve();
        }, reject);
      }
    });
  };
  try {
    const owners = order.slice(0, replicas);
    if (data.length <= SMALL_PUT_MAX_BYTES) {
      await directUntilQuorum(owners);
    } else {
      const [head, ...rest] = owners;
      if (head !== undefined) {
        const answered = timer(ctx.hedges.chain);
        chain = put(head, rest).then(() => {
          if (stored.has(head)) answered();
        });
        started.push(chain);
        // A head that stays silent (stopped, cut off) would hold the upload for the request
        // timeout: past the learnt delay the copies also go straight to the next owners.
        if (!(await settlesWithin(chain, ctx.hedges.chain.ms))) silent.add(head);
      }
    }
    for (;;) {
      if (stored.size >= writeQuorum) return [...stored];
      const targets = order
        .filter((a) => !stored.has(a) && !refused.has(a) && !silent.has(a))
        .slice(0, replicas - stored.size);
      if (targets.length === 0) {
        if (!chain) break;
        // Only the silent chain is left to wait for.
        await chain;
        chain = undefined;
        silent.clear();
        continue;
      }
      await directUntilQuorum(targets);
    }
  } finally {
    // Requests still running (past W, or behind a cancellation) are waited for here, not by the caller.
    Promise.allSettled(started).then(() => {
      if (!anyFailed) options.released?.();
    });
  }
  throw new DfsError(
    "DFS_ERR_INSUFFICIENT_REPLICAS",
    `only ${stored.size} of the ${writeQuorum} copies required of a ${options.kind} could be stored (${ctx.placement.liveCount()} live nodes)`,
    { cause: lastFailure, details: { stored: stored.size, required: writeQuorum } },
  );
}
