import { Socket } from "node:net";

/**
 * Socket reads into one reused buffer instead of a new Buffer per read.
 *
 * Why: Node allocates a fresh 64 KiB ArrayBuffer for every socket read. V8 counts that memory as
 * external, and on a node streaming a chunk per few milliseconds the growth alone starts a full
 * mark-compact every 10-15 MiB received (19-25 per 256 MiB, 14% of a node's samples, and about
 * 1.5 CPU s per GiB with its side costs, in the node suite: bench/results-2026-11.md). With `onread` and a reused buffer the node
 * receives 256 MiB with no full GC at all. The price: the bytes passed to `onChunk` are only valid
 * during the call; whatever must outlive it is copied (into pooled slabs, see slabs.ts).
 *
 * One buffer serves every socket of the process: libuv reads a socket and runs its callback to
 * completion before it reads the next, and the callback never keeps a view.
 *
 * Client sockets get it through the public `onread` option of net.connect. An accepted socket has
 * no such option, so the same state is installed on it: the symbols are taken from a probe socket
 * created with the public option, and `_handle.useUserBuffer` is what Node itself calls. Should a
 * Node release change any of that, `installUserBuffer` reports false and the caller falls back to
 * 'data' events (correct, only slower); test/transport-reads.test.ts says which path is active.
 */
export const READ_BUFFER_BYTES = 256 * 1024;
const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/** The onread option for net.connect: reads land in the shared buffer, `onChunk` sees a view. */
export function onreadOption(onChunk: (chunk: Buffer) => void): {
  buffer: Buffer;
  callback: (n: number, buf: Uint8Array) => boolean;
} {
  return {
    buffer: readBuffer,
    callback: (n) => {
      onChunk(readBuffer.subarray(0, n));
      return true;
    },
  };
}

interface Internals {
  kBuffer: symbol;
  kBufferCb: symbol;
}

let internals: Internals | null | undefined;

function findInternals(): Internals | null {
  const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } });
  const symbols = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const kBuffer = symbols.find((s) => s.description === "kBuffer");
  const kBufferCb = symbols.find((s) => s.description === "kBufferCb");
  return kBuffer && kBufferCb ? { kBuffer, kBufferCb } : null;
}

type HandleWithUserBuffer = { useUserBuffer?: (buf: Uint8Array) => void; reading?: boolean };

/**
 * Makes an accepted socket read into the shared buffer, as if it had been created with `onread`.
 * Call it in the 'connection' listener, before any data was delivered. False when this Node does
 * not allow it; the socket is then untouched.
 */
export function installUserBuffer(socket: Socket, onChunk: (chunk: Buffer) => void): boolean {
  internals ??= findInternals();
  const handle = (socket as unknown as { _handle?: HandleWithUserBuffer })._handle;
  if (!internals || typeof handle?.useUserBuffer !== "function") return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[internals.kBuffer] = readBuffer;
  fields[internals.kBufferCb] = (n: number) => onChunk(readBuffer.subarray(0, n));
  handle.useUserBuffer(readBuffer);
  return true;
}

/** True when sockets of this process can read into the shared buffer (for tests and logs). */
export function userBufferReadsAvailable(): boolean {
  internals ??= findInternals();
  return internals !== null;
}
