/**
 * The S3 listener of a gateway without keys (the `dfs dev` default): unsigned requests are served,
 * virtual-host-style buckets are found from the Host header, and the /v1 listener's protections
 * hold (a stalled body is cut, nothing of it stored; connections past the cap get S3's SlowDown;
 * request ids on every answer).
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { type S3Harness, startS3Harness } from "./helpers/s3.ts";

let h: S3Harness;
let port: number;

before(async () => {
  h = await startS3Harness(false, "s3keyless:", { "body-idle-timeout-ms": "600", "max-connections": "3" });
  port = Number(new URL(h.endpoint).port);
});

after(async () => {
  await h?.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the S3 port with the Host header given (fetch will not set it). */
function send(method: string, path: string, host: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, method, path, headers: { host }, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (p: Buffer) => parts.push(p));
        res.on("end", () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString() }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("S3 without keys", () => {
  test("unsigned requests path style, and virtual-host style by the Host header", async () => {
    const path = `127.0.0.1:${port}`;
    assert.equal((await send("PUT", "/open", path)).status, 200);
    assert.equal((await send("PUT", "/open/a%20key", path, Buffer.from("path style"))).status, 200);
    const vhost = `open.localhost:${port}`;
    const got = await send("GET", "/a%20key", vhost);
    assert.equal(got.status, 200);
    assert.equal(got.body, "path style");
    assert.equal((await send("PUT", "/second", vhost, Buffer.from("virtual host"))).status, 200);
    assert.equal((await send("GET", "/open/second", path)).body, "virtual host");
    const listed = await send("GET", "/?list-type=2", vhost);
    assert.match(listed.body, /<Key>a key<\/Key>.*<Key>second<\/Key>/s);
    assert.ok(typeof listed.headers["x-amz-request-id"] === "string");
  });

  test("a stalled body is cut with RequestTimeout and nothing of it is stored", async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method: "PUT",
          path: "/open/stalled",
          agent: false,
          headers: { host: `127.0.0.1:${port}`, "content-length": "100000" },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (p: Buffer) => parts.push(p));
          res.on("end", () => {
            req.destroy();
            resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString() });
          });
        },
      );
      req.on("error", reject);
      req.write(Buffer.alloc(1000, 1)); // then nothing more
    });
    assert.equal(answer.status, 400);
    assert.match(answer.body, /<Code>RequestTimeout<\/Code>/);
    assert.equal(answer.headers.connection, "close");
    assert.equal((await send("HEAD", "/open/stalled", `127.0.0.1:${port}`)).status, 404);
  });

  test("a connection past maxConnections reads S3's SlowDown (503, XML) and is closed", async () => {
    const open: Socket[] = [];
    const opened = (socket: Socket) =>
      new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    for (let i = 0; i < 3; i++) {
      const socket = connect(port, "127.0.0.1");
      open.push(socket);
      await opened(socket);
    }
    // One more connection, until the listener has counted the three (its accept may trail the
    // client's connect): a connection it still admits says nothing within a second and is dropped.
    const extraAnswer = () =>
      new Promise<string>((resolve) => {
        const extra = connect(port, "127.0.0.1");
        const parts: Buffer[] = [];
        const silent = setTimeout(() => extra.destroy(), 1000);
        extra.on("data", (p: Buffer) => parts.push(p));
        extra.on("error", () => {});
        extra.on("close", () => {
          clearTimeout(silent);
          resolve(Buffer.concat(parts).toString());
        });
      });
    let answer = "";
    for (let attempt = 0; attempt < 10 && answer === ""; attempt++) answer = await extraAnswer();
    for (const s of open) s.destroy();
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /<Error><Code>SlowDown<\/Code>/);
  });
});
