import { once } from "node:events";
import type { Socket } from "node:net";

/**
 * The little the plain baselines share: how a child says where it listens, how a sender respects
 * backpressure, and the 8-byte acknowledgement (bytes received) that travels back at the end.
 */

/** One JSON line on stdout, read by bench/lib/procs.ts like the nodes' pino line. */
export function announce(address: string): void {
  process.stdout.write(`${JSON.stringify({ msg: "listening", address, pid: process.pid })}\n`);
}

export function parseAddr(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(":");
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new Error(`not a host:port address: ${text}`);
  return { host: text.slice(0, i), port };
}

export function encodeCount(bytes: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(bytes));
  return b;
}

/** Reads the peer's acknowledgement: everything it sends until it ends, as one u64. */
export async function readCount(socket: Socket): Promise<number> {
  const parts: Buffer[] = [];
  socket.on("data", (d: Buffer) => parts.push(d));
  await Promise.race([
    once(socket, "end"),
    once(socket, "close").then(() => {
      throw new Error("connection closed before the acknowledgement");
    }),
  ]);
  const ack = Buffer.concat(parts);
  if (ack.length !== 8) throw new Error(`acknowledgement of ${ack.length} bytes, expected 8`);
  return Number(ack.readBigUInt64BE());
}

/** Resolves when the socket can take more; rejects if it closes first. Leaves no listener behind. */
export function drained(socket: Socket): Promise<void> {
  if (!socket.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      if (socket.destroyed) reject(new Error("connection closed while sending"));
      else resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

/** Exits on SIGTERM/SIGINT through process.exit, so `--cpu-prof` still writes its profile. */
export function exitOnSignal(cleanup: () => void): void {
  const stop = () => {
    cleanup();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
