/** The Redis Sentinel topology launcher lives in src/dev (dfs dev uses it too); tests use it from here. */
export * from "../../src/dev/redis-topology.ts";
