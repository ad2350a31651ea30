/**
 * Baseline: the plainest node:net server. One transfer per connection, announced by its first
 * byte (no framing, no hashing, no disk):
 *   'P' then the payload until the client ends -> discards it, answers the byte count (u64), ends.
 *   'G' u64 length -> writes `length` bytes from one reused 1 MiB buffer with backpressure, ends.
 * Run: node bench/baselines/socket-pair-server.ts [--piece BYTES]
 */
import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { announce, drained, encodeCount, exitOnSignal } from "./wire.ts";

const { values } = parseArgs({ options: { piece: { type: "string", default: String(1024 * 1024) } } });
const reused = Buffer.alloc(Number(values.piece), 0x5a);

function serve(socket: Socket): void {
  let mode: "head" | "put" | "get" = "head";
  let head = Buffer.alloc(0);
  let received = 0;
  socket.on("error", () => socket.destroy());
  socket.on("data", (data: Buffer) => {
    if (mode === "put") {
      received += data.length;
      return;
    }
    if (mode === "get") return socket.destroy(); // a GET client sends nothing more
    head = Buffer.concat([head, data]);
    if (head[0] === 0x50 /* P */) {
      mode = "put";
      received = head.length - 1;
    } else if (head[0] === 0x47 /* G */ && head.length >= 9) {
      mode = "get";
      void send(socket, Number(head.readBigUInt64BE(1))).catch(() => socket.destroy());
    } else if (head[0] !== 0x47) {
      socket.destroy();
    }
  });
  socket.on("end", () => {
    if (mode === "put") socket.end(encodeCount(received));
  });
}

async function send(socket: Socket, length: number): Promise<void> {
  for (let sent = 0; sent < length; ) {
    const n = Math.min(reused.length, length - sent);
    const ok = socket.write(n === reused.length ? reused : reused.subarray(0, n));
    sent += n;
    if (!ok) await drained(socket);
  }
  socket.end();
}

const server = createServer({ allowHalfOpen: true, noDelay: true }, serve);
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  if (a === null || typeof a === "string") throw new Error("no TCP address");
  announce(`127.0.0.1:${a.port}`);
});
exitOnSignal(() => server.close());
