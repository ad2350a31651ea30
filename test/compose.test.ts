import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { SETTINGS, settingsFor } from "../src/config/index.ts";
import { REPO_ROOT } from "./helpers/proc.ts";

/** Read by the image's HEALTHCHECK, not by dfs itself. */
const IMAGE_ONLY_ENV = new Set(["DFS_HEALTH_PORT"]);

interface Service {
  command?: string[] | string;
  environment?: Record<string, string>;
  healthcheck?: unknown;
  volumes?: string[];
  ports?: string[];
}

test("docker-compose.yml: the services, ports and DFS_* names match the config schema", async () => {
  const text = await readFile(join(REPO_ROOT, "docker-compose.yml"), "utf8");
  const compose = parse(text, { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const services = compose.services;
  for (const name of [
    "redis-master",
    "redis-replica",
    "sentinel-1",
    "sentinel-2",
    "sentinel-3",
    "node-1",
    "node-2",
    "node-3",
    "gateway",
  ]) {
    assert.ok(services[name], `service ${name} is missing`);
  }
  for (const name of ["redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"]) {
    assert.ok(services[name]!.healthcheck, `${name} has no health check`);
  }
  assert.deepEqual(services.gateway!.ports, ["8080:8080"]);

  const known = new Set(SETTINGS.map((s) => s.env));
  for (const [name, service] of Object.entries(services)) {
    for (const env of Object.keys(service.environment ?? {})) {
      if (!env.startsWith("DFS_")) continue;
      assert.ok(
        known.has(env) || IMAGE_ONLY_ENV.has(env),
        `${name}: ${env} is not a setting of src/config/settings.ts`,
      );
    }
  }

  const flagsOf = (section: "node" | "gateway") => new Set(settingsFor(section).map((s) => `--${s.flag}`));
  for (const [name, section] of [
    ["node-1", "node"],
    ["gateway", "gateway"],
  ] as const) {
    const command = services[name]!.command as string[];
    assert.equal(command[0], section);
    for (const arg of command.filter((a) => a.startsWith("--"))) {
      assert.ok(flagsOf(section).has(arg), `${name}: ${arg} is not a flag of dfs ${section}`);
    }
  }
  for (const node of ["node-1", "node-2", "node-3"]) {
    const volume = services[node]!.volumes?.[0]?.split(":")[0];
    assert.ok(volume && volume in compose.volumes, `${node} keeps its data in a named volume`);
    assert.ok(services[node]!.environment?.DFS_NODE_ADVERTISE, `${node} advertises its address`);
  }
});

test("Dockerfile: multi-stage, production dependencies only, non-root, with a health check", async () => {
  const text = await readFile(join(REPO_ROOT, "Dockerfile"), "utf8");
  assert.ok((text.match(/^FROM /gm) ?? []).length >= 2, "multi-stage");
  assert.match(text, /FROM node:24/);
  assert.match(text, /npm ci --omit=dev/);
  assert.match(text, /^USER node$/m);
  assert.match(text, /^HEALTHCHECK /m);
});
