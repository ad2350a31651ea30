import { DfsError } from "../../errors.ts";
import type { ObjectKind } from "../../formats/index.ts";
import type { NodeApi } from "../../transport/api.ts";

/**
 * A peer that answers nothing (stopped, cut off, or behind a link still in TCP's retransmission
 * backoff after a partition) is left out of a round after this, not the 30 s request timeout.
 */
export const PEER_ANSWER_MS = 5000;

/**
 * `asked`, or DFS_ERR_TIMEOUT after `ms`: the round goes on as if the peer were unreachable and
 * asks again next round. The request itself is not cancelled.
 */
export function answerWithin<T>(asked: Promise<T>, what: string, ms = PEER_ANSWER_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DfsError("DFS_ERR_TIMEOUT", `${what} within ${ms} ms`)), ms);
  });
  asked.catch(() => {});
  return Promise.race([asked, timeout]).finally(() => clearTimeout(timer));
}

/** `nodes.has` within PEER_ANSWER_MS (answerWithin). */
export function hasWithin(
  nodes: Pick<NodeApi, "has">,
  addr: string,
  ids: readonly string[],
  kind: ObjectKind,
  ms = PEER_ANSWER_MS,
): Promise<boolean[]> {
  return answerWithin(nodes.has(addr, ids, kind), `${addr}: no HAS answer`, ms);
}
