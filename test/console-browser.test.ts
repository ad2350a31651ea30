/**
 * The web console in headless Chromium against a real cluster: sign in, create a bucket, upload
 * three files at once (one of 64 MiB) through a proxy whose connections are cut mid-upload, resume
 * after a reload, browse folders, download and compare bytes, preview, open a share link in a fresh
 * context, delete with a confirmation, watch a stopped node turn dead. Screenshots of each page go
 * to test-results/console/; axe-core checks each page for serious accessibility violations.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { axeViolations, browserMissing, launch, serious, shot } from "./helpers/browser.ts";
import { type ConsoleHarness, startConsoleHarness } from "./helpers/console.ts";
import { type CutProxy, startCutProxy } from "./helpers/cut-proxy.ts";
import { waitFor } from "./helpers/gateway.ts";
import { makeTempDir } from "./helpers/tmp.ts";

const missing = browserMissing();
const MiB = 1024 * 1024;
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function noSeriousViolations(page: Page, where: string): Promise<void> {
  const found = serious(await axeViolations(page));
  assert.deepEqual(found, [], `${where}: serious accessibility violations`);
}

/** Waits until the listing shows `n` rows (folders and keys). */
async function rowsShown(page: Page, n: number): Promise<void> {
  await waitFor(async () => (await page.locator("#keys tbody tr").count()) === n, 30_000, `${n} rows listed`);
}

/** OK answers to part PUTs by part number, and requests that failed on the network. */
function watchParts(page: Page, key: string) {
  const ok = new Map<number, number>();
  let failed = 0;
  const match = (url: string) => {
    const m = /\/uploads\/[0-9a-f]{32}\/parts\/(\d+)\?key=([^&]+)$/.exec(url);
    return m && decodeURIComponent(m[2]!) === key ? Number(m[1]) : undefined;
  };
  page.on("response", (r) => {
    const n = match(r.url());
    if (n !== undefined && r.request().method() === "PUT" && r.ok()) ok.set(n, (ok.get(n) ?? 0) + 1);
  });
  page.on("requestfailed", (r) => {
    if (match(r.url()) !== undefined) failed++;
  });
  return { ok, failed: () => failed };
}

describe("web console in Chromium", { skip: missing, timeout: 600_000 }, () => {
  let h: ConsoleHarness;
  let proxy: CutProxy;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  const files: Record<string, { path: string; bytes: Buffer }> = {};
  const cspErrors: string[] = [];

  before(async () => {
    tmp = await makeTempDir("dfs-console-");
    const make = async (name: string, bytes: Buffer) => {
      files[name] = { path: join(tmp.path, name), bytes };
      await writeFile(files[name].path, bytes);
    };
    await make("notes.txt", Buffer.from("The console's text preview shows this line.\n".repeat(20)));
    await make("pixel.png", PNG);
    await make("big.bin", randomBytes(64 * MiB));
    await make("resume.bin", randomBytes(24 * MiB));
    await make("cancelled.bin", randomBytes(24 * MiB));
    h = await startConsoleHarness("console-browser:");
    proxy = await startCutProxy(h.gateway.address);
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1200, height: 760 }, acceptDownloads: true });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: proxy.url });
    page = await context.newPage();
    page.on("console", (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await h?.stop();
    await tmp?.remove();
  });

  /**
   * Picks `name` in the photos bucket with its part 3 held back (never sent on), so the test acts
   * before the upload can end; resolves once parts 1 and 2 are acknowledged. `release` lets part
   * 3 through again.
   */
  async function uploadHoldingPart3(name: string) {
    await page.goto(`${proxy.url}/ui/#/b/photos/`);
    const parts = watchParts(page, name);
    const third = new RegExp(`/parts/3\\?key=${name.replaceAll(".", "\\.")}$`);
    await page.route(third, () => {});
    await page.setInputFiles("#file-input", [files[name]!.path]);
    await waitFor(() => parts.ok.size >= 2, 120_000, `parts 1 and 2 of ${name} acknowledged`);
    return { parts, release: () => page.unroute(third) };
  }

  test("first load is under 200 KiB on the wire; the sign-in page is accessible", async () => {
    let wire = 0;
    const sizes: Promise<void>[] = [];
    page.on("requestfinished", (r) => {
      sizes.push(
        r.sizes().then((s) => {
          wire += s.responseBodySize + s.responseHeadersSize;
        }),
      );
    });
    await page.goto(`${proxy.url}/ui/`);
    await page.locator("#key-id").waitFor();
    await Promise.all(sizes);
    page.removeAllListeners("requestfinished");
    assert.ok(wire > 1000 && wire < 200 * 1024, `first load: ${wire} bytes`);
    await shot(page, "1-sign-in");
    await noSeriousViolations(page, "sign-in");
  });

  test("sign in (the session cookie is not readable by scripts) and create a bucket", async () => {
    await page.fill("#key-id", "DKWRONGWRONGWRONGWRO");
    await page.fill("#key-secret", "wrong");
    await page.click("button[type=submit]");
    await page.locator("#signin-error", { hasText: "not accepted" }).waitFor();
    await page.fill("#key-id", h.key.id);
    await page.fill("#key-secret", h.key.secret);
    await page.click("button[type=submit]");
    await page.locator("h1", { hasText: "Buckets" }).waitFor();
    assert.equal(await page.evaluate("document.cookie"), "", "HttpOnly: no cookie visible to scripts");
    assert.ok(!page.url().includes(h.key.secret));
    await page.fill("#new-bucket", "photos");
    await page.click("text=Create bucket");
    await page.locator("a", { hasText: "photos" }).waitFor();
    await shot(page, "2-buckets");
    await noSeriousViolations(page, "buckets");
  });

  test("three files at once, one of 64 MiB: the connection is cut, the upload resumes, all reach 100%", async () => {
    await page.goto(`${proxy.url}/ui/#/b/photos/docs%2F`);
    await page.locator("#drop-zone").waitFor();
    const parts = watchParts(page, "docs/big.bin");
    await page.setInputFiles("#file-input", [
      files["notes.txt"]!.path,
      files["pixel.png"]!.path,
      files["big.bin"]!.path,
    ]);
    await waitFor(() => parts.ok.size >= 1, 120_000, "a first part of big.bin acknowledged");
    const before = new Map(parts.ok);
    proxy.cut();
    await page
      .locator('li.upload[data-key="docs/big.bin"][data-state="retrying"]')
      .waitFor({ timeout: 30_000 });
    await shot(page, "3-upload-cut");
    proxy.restore();
    await page.locator('li.upload[data-state="done"]').nth(2).waitFor({ timeout: 240_000 });
    for (const name of ["notes.txt", "pixel.png", "big.bin"]) {
      const row = page.locator(`li.upload[data-key="docs/${name}"]`);
      assert.equal(await row.locator(".pct").textContent(), "100%", name);
      assert.equal(await row.locator(".hash").textContent(), `sha256 ${sha256(files[name]!.bytes)}`, name);
    }
    assert.match((await page.locator("#total-text").textContent()) ?? "", /^100% of /);
    assert.ok(proxy.cutCount > 0, "connections were cut");
    assert.ok(parts.failed() >= 1, "part requests failed when the connection was cut");
    assert.deepEqual(
      [...parts.ok.keys()].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    for (const [n, count] of parts.ok)
      assert.equal(count, 1, `part ${n} was acknowledged once, never sent again`);
    assert.ok(before.size < 8, "the cut came before the last part");
    await shot(page, "4-uploads");
  });

  test("after a reload, the same file chosen again resumes from the parts already sent", async () => {
    // Part 3 held back: the reload surely comes before the upload ends.
    const { parts, release } = await uploadHoldingPart3("resume.bin");
    const sent = new Set(parts.ok.keys());
    await page.reload();
    await release();
    const resume = page.locator('.resume[data-key="resume.bin"]');
    await resume.waitFor();
    await shot(page, "5-resume-after-reload");
    const again = watchParts(page, "resume.bin");
    const seen: string[] = [];
    page.on("response", (r) => seen.push(`${r.request().method()} ${r.url()} ${r.status()}`));
    await resume.locator("input[type=file]").setInputFiles(files["resume.bin"]!.path);
    await page.locator('li.upload[data-key="resume.bin"][data-state="done"]').waitFor({ timeout: 120_000 });
    for (const n of sent)
      assert.equal(again.ok.has(n), false, `part ${n} was sent again; after the reload:\n${seen.join("\n")}`);
    assert.deepEqual([...sent].sort(), [1, 2]);
    assert.deepEqual([...again.ok.keys()], [3], "only the missing part is sent after the reload");
    assert.equal(
      await page.locator('li.upload[data-key="resume.bin"] .hash').textContent(),
      `sha256 ${sha256(files["resume.bin"]!.bytes)}`,
    );
  });

  test("cancel stops an upload: the gateway drops its parts, the page forgets it", async () => {
    const { release } = await uploadHoldingPart3("cancelled.bin");
    const uploadId = await page.evaluate<string>(
      'JSON.parse(localStorage.getItem("dfs-upload:photos/cancelled.bin")).uploadId',
    );
    await page.click('button[aria-label="Cancel cancelled.bin"]');
    await page.locator('li.upload[data-key="cancelled.bin"][data-state="cancelled"]').waitFor();
    await release();
    assert.equal(await page.evaluate('localStorage.getItem("dfs-upload:photos/cancelled.bin")'), null);
    const as = { authorization: `Bearer ${h.key.id}:${h.key.secret}` };
    await waitFor(
      async () =>
        (await fetch(`${h.url}/v1/buckets/photos/uploads/${uploadId}?key=cancelled.bin`, { headers: as }))
          .status === 404,
      30_000,
      "the upload aborted on the gateway",
    );
    const key = await fetch(`${h.url}/v1/buckets/photos/objects/cancelled.bin`, {
      method: "HEAD",
      headers: as,
    });
    assert.equal(key.status, 404, "no key was made");
  });

  test("browse folders, search by prefix, download and compare bytes", async () => {
    await page.goto(`${proxy.url}/ui/#/b/photos/`);
    await page.locator("#keys a", { hasText: "docs/" }).click();
    await page.locator("#keys button.link", { hasText: "big.bin" }).waitFor();
    assert.equal(await page.locator("#keys tbody tr").count(), 3);
    await shot(page, "6-browse");
    await noSeriousViolations(page, "browse");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click('a[aria-label="Download big.bin"]'),
    ]);
    const got = await readFile((await download.path())!);
    assert.equal(sha256(got), sha256(files["big.bin"]!.bytes));
    await page.fill("#search", "no");
    await page.click("form[role=search] button");
    await rowsShown(page, 1);
    assert.equal(await page.locator("#keys button.link").textContent(), "notes.txt");
    await page.fill("#search", "");
    await page.click("form[role=search] button");
    await rowsShown(page, 3);
  });

  test("preview a text key; its share link works in a fresh context without a key", async () => {
    await page.locator("#keys button.link", { hasText: "notes.txt" }).click();
    const dialog = page.locator("dialog.details");
    await dialog.locator("pre.preview", { hasText: "text preview shows" }).waitFor();
    assert.equal(await dialog.locator("#sha256").textContent(), sha256(files["notes.txt"]!.bytes));
    await page.selectOption("#share-expiry", { label: "1 day" });
    await page.click("#share");
    await waitFor(async () => (await page.inputValue("#share-url")) !== "", 30_000, "a share link");
    const url = await page.inputValue("#share-url");
    assert.equal(await page.evaluate("navigator.clipboard.readText()"), url, "copied in one click");
    await shot(page, "7-details-share");
    await noSeriousViolations(page, "details");
    const fresh = await browser.newContext();
    try {
      const other = await fresh.newPage();
      const res = await other.goto(url);
      assert.equal(res?.status(), 200);
      assert.ok((await res!.body()).equals(files["notes.txt"]!.bytes));
    } finally {
      await fresh.close();
    }
    await dialog.locator("button", { hasText: "Close" }).click();
    await dialog.waitFor({ state: "detached" });
  });

  test("delete several keys at once, after a confirmation", async () => {
    await page.check('input[aria-label="Select docs/notes.txt"]');
    await page.check('input[aria-label="Select docs/pixel.png"]');
    await page.click("#delete-selected");
    const confirm = page.locator("dialog", { hasText: "Delete 2 keys?" });
    await confirm.waitFor();
    await shot(page, "8-delete-confirm");
    await confirm.locator("button", { hasText: /^Delete$/ }).click();
    await rowsShown(page, 1);
    assert.equal(await page.locator("#keys button.link").textContent(), "big.bin");
  });

  test("on a phone-sized screen the page fits its width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${proxy.url}/ui/#/b/photos/docs%2F`);
      await page.locator("#keys button.link", { hasText: "big.bin" }).waitFor();
      const width = await page.evaluate<number>("document.documentElement.scrollWidth");
      assert.ok(width <= 390, `page ${width}px wide on a 390px screen`);
      await shot(page, "9-browse-phone");
      await noSeriousViolations(page, "browse on a phone");
    } finally {
      await page.setViewportSize({ width: 1200, height: 760 });
    }
  });

  test("the cluster page shows the nodes live, then a stopped node dead", async () => {
    await page.goto(`${proxy.url}/ui/#/cluster`);
    await page.locator(".badge.live").nth(2).waitFor();
    await page.locator("#rate-requests", { hasText: "/s" }).waitFor();
    await shot(page, "10-cluster");
    await noSeriousViolations(page, "cluster");
    const victim = h.cluster.nodes[2]!;
    await victim.stop("SIGKILL");
    await page.locator(`[data-node="${victim.nodeId}"]`, { hasText: "dead" }).waitFor({ timeout: 60_000 });
    await shot(page, "11-cluster-node-dead");
    assert.deepEqual(cspErrors, [], "no Content-Security-Policy violation");
  });
});
