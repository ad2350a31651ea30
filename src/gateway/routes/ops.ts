import type { FastifyInstance } from "fastify";
import { DfsError } from "../../errors.ts";
import type { GatewayContext } from "../context.ts";

/**
 * Membership, liveness, readiness and metrics: what operators and load balancers ask. Liveness
 * and readiness are public (a load balancer has no key); membership and metrics need an admin key.
 */
export async function opsRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  // Internal addresses and disk figures: for operators (admin), not for every reader.
  app.get("/v1/nodes", { config: { access: "admin" } }, async () => ({
    stale: ctx.view.stale,
    ageMs: Math.round(ctx.view.ageMs),
    nodes: ctx.view.all().map((n) => ({
      id: n.id,
      addr: n.addr,
      zone: n.zone,
      state: n.state,
      capacityBytes: n.capacityBytes,
      freeBytes: n.freeBytes,
      version: n.version,
      startedAt: new Date(n.startedAt).toISOString(),
      incarnation: n.incarnation,
      lastHeartbeatAgeMs: Math.round(n.lastHeartbeatAgeMs),
      // Absent for a node that publishes none (not healing yet, an older version).
      ...(n.heal && { heal: n.heal }),
      ...(n.store && { store: n.store }),
    })),
  }));

  /** Alive: the process answers. Nothing else is checked, so a Redis outage never restarts us. */
  app.get("/healthz", { config: { access: "public" } }, async () => ({ status: "ok" }));

  /** Ready: a fresh view with at least W live nodes, so a write can succeed. */
  app.get("/readyz", { config: { access: "public" } }, async () => {
    const live = ctx.view.live().length;
    if (ctx.view.stale) {
      throw new DfsError(
        "DFS_ERR_REGISTRY",
        `the membership view is stale (${Math.round(ctx.view.ageMs)} ms old)`,
      );
    }
    if (live < ctx.config.writeQuorum) {
      throw new DfsError(
        "DFS_ERR_UNAVAILABLE",
        `${live} live storage nodes, ${ctx.config.writeQuorum} needed`,
      );
    }
    return { status: "ready", liveNodes: live };
  });

  app.get("/metrics", { config: { access: "admin" } }, async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
