import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { SETTINGS, settingsFor } from "../src/config/index.ts";
import { SERVICE_NODE_FLAGS } from "../src/runtime.ts";
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
  // Published on every interface, so it must have keys (it would refuse to start without).
  const gatewayEnv = services.gateway!.environment ?? {};
  assert.ok(
    gatewayEnv.DFS_API_KEYS?.includes(":?") || gatewayEnv.DFS_API_KEYS_FILE,
    "the gateway requires API keys",
  );
  assert.ok(!("DFS_ANONYMOUS" in gatewayEnv), "the gateway is not anonymous");

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

/** The Dockerfile's stages: the name after AS ("" for the last, unnamed one) and its lines. */
function stages(text: string): { name: string; lines: string[] }[] {
  return text
    .split(/^(?=FROM )/m)
    .filter((s) => s.startsWith("FROM "))
    .map((s) => {
      const lines = s.split("\n").map((l) => l.trim());
      return { name: /\sAS\s+(\S+)/i.exec(lines[0]!)?.[1] ?? "", lines };
    });
}

test("Dockerfile: the image runs the compiled JavaScript that npm run build writes, not the sources", async () => {
  const text = await readFile(join(REPO_ROOT, "Dockerfile"), "utf8");
  const all = stages(text);
  const final = all.at(-1)!;
  const build = all.find((s) => s.lines.some((l) => /^RUN .*npm run build/.test(l)));
  assert.ok(build?.name, "a named stage runs npm run build");
  assert.ok(build !== final, "the build happens in its own stage");
  // With dev dependencies (typescript) and the sources it compiles.
  assert.ok(
    build.lines.some((l) => /^RUN npm ci(?!.*--omit=dev)/.test(l)),
    "the build stage installs dev deps",
  );
  // openapi.yaml: the build generates the API types from it (npm run gen:api).
  // console: the web console's browser code, bundled into dist/ui by npm run build:ui.
  for (const f of ["tsconfig.json", "tsconfig.build.json", "openapi.yaml", "src", "console"]) {
    assert.ok(
      build.lines.some((l) => l.startsWith("COPY ") && l.split(/\s+/).includes(f)),
      `build copies ${f}`,
    );
  }

  // Where the build puts the CLI: outDir + the path of src/cli/main.ts under rootDir, as .js.
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as {
    type: string;
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.build, "npm run gen:api && tsc -p tsconfig.build.json && npm run build:ui");
  assert.equal(pkg.type, "module", "dist/*.js are ES modules because package.json says so");
  const tsconfig = JSON.parse(await readFile(join(REPO_ROOT, "tsconfig.build.json"), "utf8")) as {
    compilerOptions: { outDir: string; rootDir: string; rewriteRelativeImportExtensions: boolean };
  };
  const { outDir, rootDir, rewriteRelativeImportExtensions } = tsconfig.compilerOptions;
  assert.equal(rewriteRelativeImportExtensions, true, "imports of ./x.ts must become ./x.js");
  await readFile(join(REPO_ROOT, rootDir, "cli/main.ts"));
  const entry = `${outDir}/cli/main.js`;

  assert.ok(
    final.lines.includes(`COPY --from=${build.name} /app/${outDir} ./${outDir}`),
    `the image copies ${outDir}/ from the build stage`,
  );
  assert.ok(final.lines.includes("COPY package.json ./"), "the image has package.json (type: module)");
  const copied = final.lines.filter((l) => l.startsWith("COPY ")).flatMap((l) => l.split(/\s+/).slice(1));
  for (const source of ["src", "./src", "bin", "./bin", "."]) {
    assert.ok(!copied.includes(source), `the image does not copy ${source} (it runs ${entry})`);
  }
  const flags = SERVICE_NODE_FLAGS.map((f) => `"${f}", `).join("");
  assert.ok(
    final.lines.includes(`ENTRYPOINT ["node", ${flags}"${entry}"]`),
    `ENTRYPOINT runs node ${SERVICE_NODE_FLAGS.join(" ")} ${entry}`,
  );
  const shebang = (await readFile(join(REPO_ROOT, "bin/dfs.js"), "utf8")).split("\n")[0];
  assert.equal(
    shebang,
    `#!/usr/bin/env -S node ${SERVICE_NODE_FLAGS.join(" ")}`,
    "bin/dfs.js passes the flags",
  );
  assert.ok(final.lines.includes("USER node"), "the final stage runs as node, not root");
});
