import type { NodeApi } from "../../transport/api.ts";
import type { Members } from "./members.ts";

/**
 * Which live member addresses are distinct nodes. A member record names an address and an id;
 * the node at that address proves its own id in the handshake, and PING answers it. An address
 * whose node answers with another id than its record's is an alias: of this node, or of another
 * member (one node reachable under two addresses, two records). Aliases are left out of placement
 * and of the live set, so repair counts every node once: it never takes itself for another owner
 * holding a copy, nor one node's copy for two, and so never drops a copy it believes redundant
 * that is in fact one of too few. Every node leaves the same aliases out, so placement agrees.
 *
 * Answers are kept per address and record id: a member is asked once, and again only when the
 * record at its address changes. One that cannot be asked stays a member (repair's own HAS finds
 * it unreachable).
 */
export class Identities {
  readonly #selfId: string;
  readonly #self: string;
  readonly #nodes: Pick<NodeApi, "ping">;
  /** addr -> the record id it was asked under, and the id its node answered. */
  readonly #answers = new Map<string, { recordId: string; answered: string }>();

  constructor(selfId: string, self: string, nodes: Pick<NodeApi, "ping">) {
    this.#selfId = selfId;
    this.#self = self;
    this.#nodes = nodes;
  }

  /** `members` without aliases. */
  async distinct(members: Members): Promise<Members> {
    const byAddr = new Map(members.nodes.map((n) => [n.addr, n.id]));
    const aliases = new Set<string>();
    await Promise.all(
      [...members.live].map(async (addr) => {
        const recordId = byAddr.get(addr);
        if (addr === this.#self || recordId === undefined) return;
        const answered = await this.#answer(addr, recordId);
        if (answered !== undefined && (answered !== recordId || answered === this.#selfId)) aliases.add(addr);
      }),
    );
    for (const addr of this.#answers.keys()) if (!members.live.has(addr)) this.#answers.delete(addr);
    if (aliases.size === 0) return members;
    return {
      nodes: members.nodes.filter((n) => !aliases.has(n.addr)),
      live: new Set([...members.live].filter((a) => !aliases.has(a))),
      ...(members.withoutSync && { withoutSync: members.withoutSync }),
    };
  }

  async #answer(addr: string, recordId: string): Promise<string | undefined> {
    const known = this.#answers.get(addr);
    if (known?.recordId === recordId) return known.answered;
    try {
      const { nodeId } = await this.#nodes.ping(addr);
      this.#answers.set(addr, { recordId, answered: nodeId });
      return nodeId;
    } catch {
      return undefined;
    }
  }
}
