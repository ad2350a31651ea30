/**
 * Frees a Buffer's memory now instead of at the next garbage collection, when `buf` is the whole of
 * its own ArrayBuffer: a cipher's output, a socket read of node:http. The caller must hold the only
 * reference that will ever be read again; anything else that still held one would see an empty
 * (detached) buffer, never freed memory. A view of part of a buffer (a pooled Buffer.allocUnsafe
 * slice, a slab) is left alone.
 *
 * Why: such a Buffer dies only at the scavenge that finds its small JavaScript object dead, so a
 * process streaming a GiB through cipher.update() holds tens of MiB of dead output at any time,
 * grows its RSS with it, and pays mark-compacts for it. Freed at once, the same few blocks come back
 * from malloc for the next piece, still in cache: AES-GCM in 64 KiB pieces took 0.20 instead of 0.35
 * CPU s per GiB and peaked at 82 instead of 208 MiB of RSS (bench/free-now.ts); through the gateway,
 * ~44 mark-compacts per GiB went away (bench/README.md, sixth session).
 */
export function freeNow(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.detached || ab.byteLength === 0) return;
  if (buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength) return;
  ab.transfer(0);
}

/**
 * The pieces of `pieces`, each freed (freeNow) once the reader asks for the next one, or stops.
 * For a reader that keeps nothing of a piece past that point (it copies what it needs), over a
 * source whose pieces are its own (node:http's request body: one ArrayBuffer per piece).
 */
export async function* freedAfterUse<T extends Uint8Array>(pieces: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const piece of pieces) {
    try {
      yield piece;
    } finally {
      freeNow(piece);
    }
  }
}
