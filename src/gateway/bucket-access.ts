import type { FastifyRequest } from "fastify";
import type { BucketAction } from "../access/types.ts";

/**
 * Whether the request may act on `bucket`. For now the route-level key check (each route's
 * config.access: read, write or delete) is all there is, and it has run before the handler:
 * every key that passed it may act on every bucket. Grants per bucket replace this body.
 */
export async function authorizeBucket(
  _request: FastifyRequest,
  _bucket: string,
  _action: BucketAction,
): Promise<void> {}
