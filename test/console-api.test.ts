/**
 * The web console's server side without a browser: static files (compressed, CSP), the session
 * cookie, CSRF on writes, share links, the cluster report, the /v1 multipart routes it uploads
 * with, and the flag that turns it off.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { admin, type ConsoleHarness, startConsoleGateway, startConsoleHarness } from "./helpers/console.ts";
import { http } from "./helpers/gateway.ts";

type Headers = Record<string, string | string[] | undefined>;

async function call(
  base: string,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<{ status: number; headers: Headers; body: Buffer; json: () => Record<string, unknown> }> {
  const res = await request(`${base}${path}`, { method, headers, body });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers,
    body: bytes,
    json: () => JSON.parse(bytes.toString("utf8")) as Record<string, unknown>,
  };
}

const json = { "content-type": "application/json" };

describe("web console, server side", { timeout: 120_000 }, () => {
  let h: ConsoleHarness;
  let cookie = "";
  let csrf = "";

  before(async () => {
    h = await startConsoleHarness("console-api:");
  });
  after(async () => {
    await h?.stop();
  });

  test("the page and its assets: brotli or gzip, a strict CSP, under 200 KiB compressed in all", async () => {
    let total = 0;
    for (const [path, type] of [
      ["/ui/", "text/html"],
      ["/ui/app.js", "text/javascript"],
      ["/ui/app.css", "text/css"],
    ] as const) {
      const r = await call(h.url, "GET", path, { "accept-encoding": "br, gzip" });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers["content-encoding"], "br", path);
      assert.match(String(r.headers["content-type"]), new RegExp(`^${type}`));
      const csp = String(r.headers["content-security-policy"]);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/, "no inline script, no eval");
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(r.headers["x-content-type-options"], "nosniff");
      assert.equal(r.headers["cache-control"], "no-cache", "revalidated by ETag");
      total += r.body.length;
      const gz = await call(h.url, "GET", path, { "accept-encoding": "gzip" });
      assert.equal(gz.headers["content-encoding"], "gzip");
    }
    assert.ok(total < 200 * 1024, `first load ${total} bytes compressed`);
    assert.equal((await call(h.url, "GET", "/ui")).status, 200);
    assert.equal((await call(h.url, "GET", "/ui/nothing.js")).status, 404);
  });

  test("sign in: a wrong secret is refused; the cookie is HttpOnly, SameSite=Strict and holds no secret", async () => {
    const wrong = await call(
      h.url,
      "POST",
      "/ui/api/session",
      json,
      JSON.stringify({ id: h.key.id, secret: "x".repeat(40) }),
    );
    assert.equal(wrong.status, 403);
    assert.equal(wrong.headers["set-cookie"], undefined);
    const unknown = await call(
      h.url,
      "POST",
      "/ui/api/session",
      json,
      JSON.stringify({ id: "DKAAAAAAAAAAAAAAAAAA", secret: h.key.secret }),
    );
    assert.equal(unknown.status, 403);
    const ok = await call(h.url, "POST", "/ui/api/session", json, JSON.stringify(h.key));
    assert.equal(ok.status, 201);
    const set = String(ok.headers["set-cookie"]);
    assert.match(set, /^dfs_console=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    assert.ok(
      !set.includes(h.key.secret) && !set.includes(h.key.id),
      "neither id nor secret readable in the cookie",
    );
    cookie = set.split(";")[0]!;
    const body = ok.json();
    assert.equal(body.keyId, h.key.id);
    assert.equal(body.cluster, true);
    assert.equal(body.secret, undefined);
    csrf = String(body.csrf);
    const again = await call(h.url, "GET", "/ui/api/session", { cookie });
    assert.equal(again.status, 200);
    assert.equal(again.json().csrf, csrf, "the token is bound to the cookie");
    assert.equal((await call(h.url, "GET", "/ui/api/session")).status, 401);
    const forged = `${cookie.slice(0, -4)}AAAA`;
    assert.equal((await call(h.url, "GET", "/ui/api/session", { cookie: forged })).status, 401);
  });

  test("the session works on /v1; a write needs its CSRF token", async () => {
    const noToken = await call(h.url, "PUT", "/v1/buckets/console-a", { cookie });
    assert.equal(noToken.status, 403);
    assert.match(String(noToken.json().detail), /csrf/i);
    const otherToken = await call(h.url, "PUT", "/v1/buckets/console-a", {
      cookie,
      "x-csrf-token": `${csrf.slice(1)}x`,
    });
    assert.equal(otherToken.status, 403);
    const made = await call(h.url, "PUT", "/v1/buckets/console-a", { cookie, "x-csrf-token": csrf });
    assert.equal(made.status, 201);
    const listed = await call(h.url, "GET", "/v1/buckets", { cookie });
    assert.deepEqual(
      (listed.json().buckets as { name: string }[]).map((b) => b.name),
      ["console-a"],
    );
    // An access key's session is no admin: /v1/nodes stays for configured API keys.
    assert.equal((await call(h.url, "GET", "/v1/nodes", { cookie })).status, 403);
  });

  test("multipart over /v1: parts in any order, listed to resume, completed into the key", async () => {
    const as = { authorization: `Bearer ${h.key.id}:${h.key.secret}` };
    const started = await http(h.url, "POST", "/v1/buckets/console-a/uploads", {
      headers: { ...as, ...json },
      body: JSON.stringify({ key: "big/part.bin", contentType: "application/x-test" }),
    });
    assert.equal(started.status, 201);
    const { uploadId } = started.json as { uploadId: string };
    const q = `?key=${encodeURIComponent("big/part.bin")}`;
    const parts = [randomBytes(300_000), randomBytes(123_457)];
    const base = `/v1/buckets/console-a/uploads/${uploadId}`;
    const second = await http(h.url, "PUT", `${base}/parts/2${q}`, { headers: as, body: parts[1] });
    assert.equal(second.status, 200);
    const listed = await http(h.url, "GET", `${base}${q}`, { headers: as });
    assert.deepEqual(
      (listed.json as { parts: { partNumber: number }[] }).parts.map((p) => p.partNumber),
      [2],
    );
    const first = await http(h.url, "PUT", `${base}/parts/1${q}`, { headers: as, body: parts[0] });
    const etags = [first, second].map((r) => (r.json as { etag: string }).etag);
    const bad = await http(h.url, "POST", `${base}/complete${q}`, {
      headers: { ...as, ...json },
      body: JSON.stringify({ parts: [{ partNumber: 1, etag: etags[1] }] }),
    });
    assert.equal(bad.status, 400);
    const done = await http(h.url, "POST", `${base}/complete${q}`, {
      headers: { ...as, ...json },
      body: JSON.stringify({ parts: etags.map((etag, i) => ({ partNumber: i + 1, etag })) }),
    });
    assert.equal(done.status, 201);
    const whole = Buffer.concat(parts);
    const sha = createHash("sha256").update(whole).digest("hex");
    assert.equal((done.json as { sha256: string }).sha256, sha);
    const got = await call(h.url, "GET", "/v1/buckets/console-a/objects/big/part.bin", as);
    assert.ok(got.body.equals(whole));
    assert.equal(got.headers["content-type"], "application/x-test");
    assert.equal((await http(h.url, "GET", `${base}${q}`, { headers: as })).status, 404, "completed: gone");
    const other = await http(h.url, "POST", "/v1/buckets/console-a/uploads", {
      headers: { ...as, ...json },
      body: JSON.stringify({ key: "dropped" }),
    });
    const otherId = (other.json as { uploadId: string }).uploadId;
    assert.equal(
      (await http(h.url, "DELETE", `/v1/buckets/console-a/uploads/${otherId}?key=dropped`, { headers: as }))
        .status,
      204,
    );
  });

  test("a share link reads the key without a key, until it expires; it needs a session", async () => {
    const put = await call(
      h.url,
      "PUT",
      "/v1/buckets/console-a/objects/shared/a%20b.txt",
      { cookie, "x-csrf-token": csrf, "content-type": "text/plain" },
      "shared bytes",
    );
    assert.equal(put.status, 201);
    const bare = await call(
      h.url,
      "POST",
      "/ui/api/share",
      json,
      JSON.stringify({ bucket: "console-a", key: "shared/a b.txt" }),
    );
    assert.equal(bare.status, 401);
    const r = await call(
      h.url,
      "POST",
      "/ui/api/share",
      { ...json, cookie, "x-csrf-token": csrf },
      JSON.stringify({ bucket: "console-a", key: "shared/a b.txt", expiresSec: 600 }),
    );
    assert.equal(r.status, 200);
    const url = String(r.json().url);
    assert.ok(
      url.startsWith(`http://127.0.0.1:${h.gateway.s3Address!.split(":").pop()}/console-a/shared/a%20b.txt?`),
      url,
    );
    assert.ok(!url.includes(h.key.secret));
    const fetched = await request(url);
    assert.equal(fetched.statusCode, 200);
    assert.equal(await fetched.body.text(), "shared bytes");
    const tampered = await request(url.replace("a%20b.txt", "other.txt"));
    assert.equal(tampered.statusCode, 403);
    await tampered.body.dump();
    const missing = await call(
      h.url,
      "POST",
      "/ui/api/share",
      { ...json, cookie, "x-csrf-token": csrf },
      JSON.stringify({ bucket: "console-a", key: "nope" }),
    );
    assert.equal(missing.status, 404);
  });

  test("the cluster report: nodes, heal counters, request totals, Sentinel's master and replicas", async () => {
    const r = await call(h.url, "GET", "/ui/api/cluster", { cookie });
    assert.equal(r.status, 200);
    const body = r.json() as {
      nodes: { state: string; capacityBytes: number }[];
      heal: Record<string, number>;
      gateway: { requests: number };
      sentinel: {
        master: { addr: string; flags: string[] };
        replicas: unknown[];
        sentinels: { answered: boolean }[];
      };
    };
    assert.equal(body.nodes.filter((n) => n.state === "live").length, 3);
    assert.ok(body.nodes.every((n) => n.capacityBytes > 0));
    assert.equal(typeof body.heal.underReplicated, "number");
    assert.ok(body.gateway.requests > 0);
    const master = await h.cluster.topology.master();
    assert.equal(body.sentinel.master.addr, `${master.host}:${master.port}`);
    assert.ok(body.sentinel.master.flags.includes("master"));
    assert.ok(body.sentinel.replicas.length >= 1);
    assert.ok(body.sentinel.sentinels.every((s) => s.answered));
    assert.equal((await call(h.url, "GET", "/ui/api/cluster")).status, 401);
  });

  test("sign out needs the CSRF token and clears the cookie", async () => {
    assert.equal((await call(h.url, "DELETE", "/ui/api/session", { cookie })).status, 403);
    const out = await call(h.url, "DELETE", "/ui/api/session", { cookie, "x-csrf-token": csrf });
    assert.equal(out.status, 204);
    assert.match(String(out.headers["set-cookie"]), /^dfs_console=; .*Max-Age=0/);
  });

  test("--no-console: /ui/ is not served", async () => {
    const off = await startConsoleGateway(h.cluster, { console: false });
    try {
      const url = `http://${off.address}`;
      // Unknown routes need the admin key before they answer 404.
      assert.equal((await call(url, "GET", "/ui/", admin)).status, 404);
      assert.equal(
        (await call(url, "POST", "/ui/api/session", { ...json, ...admin }, JSON.stringify(h.key))).status,
        404,
      );
    } finally {
      await off.close(2000);
    }
  });
});
