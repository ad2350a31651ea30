/**
 * The gateway's HTTP API as openapi.yaml describes it, for the gateway that answers it and the
 * clients that call it. openapi.d.ts is generated from openapi.yaml by `npm run gen:api`, which
 * `npm ci`, `npm run typecheck` and `npm run build` run, and is not kept in git: the types cannot
 * drift from the contract. A leaf: it imports nothing of the project.
 */
import type { components } from "./openapi.d.ts";

export type { components, operations, paths } from "./openapi.d.ts";

type Schemas = components["schemas"];

/** What an upload answers: 201 when this upload made the file, 200 when the same bytes existed. */
export type FileCreated = Schemas["FileCreated"];
/** A file's metadata, its chunks and the live nodes found holding each. */
export type FileMeta = Schemas["FileMeta"];
/** An error answer (RFC 9457 problem details with a stable `code` and the request's id). */
export type Problem = Schemas["Problem"];
