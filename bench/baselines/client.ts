import { connect, type Socket } from "node:net";
import { drained, parseAddr, readCount } from "./wire.ts";

/** The bench-side ends of the plain baselines: one transfer per connection, reused buffers. */

function open(addr: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ ...parseAddr(addr), allowHalfOpen: true, noDelay: true });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/**
 * Sends `bytes` by writing `piece` (reused) over and over after an optional header, ends, and
 * waits for the byte count the peer acknowledges: the socket-pair PUT and the chain PUT.
 */
export async function sendAll(addr: string, bytes: number, piece: Buffer, header?: Buffer): Promise<void> {
  const socket = await open(addr);
  try {
    const ack = readCount(socket);
    ack.catch(() => {});
    if (header) socket.write(header);
    for (let sent = 0; sent < bytes; ) {
      const n = Math.min(piece.length, bytes - sent);
      sent += n;
      if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) await drained(socket);
    }
    socket.end();
    const got = await ack;
    if (got !== bytes) throw new Error(`${addr} acknowledged ${got} of ${bytes} bytes`);
  } finally {
    socket.destroy();
  }
}

/** The socket-pair PUT: header 'P', then the payload. */
export function socketPut(addr: string, bytes: number, piece: Buffer): Promise<void> {
  return sendAll(addr, bytes, piece, Buffer.from("P"));
}

/** The socket-pair GET: asks for `bytes`, discards what arrives, checks the count. */
export async function socketGet(addr: string, bytes: number): Promise<void> {
  const socket = await open(addr);
  try {
    const head = Buffer.alloc(9);
    head[0] = 0x47; // G
    head.writeBigUInt64BE(BigInt(bytes), 1);
    socket.write(head);
    let got = 0;
    for await (const data of socket) got += (data as Buffer).length;
    if (got !== bytes) throw new Error(`${addr} sent ${got} of ${bytes} bytes`);
  } finally {
    socket.destroy();
  }
}
