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
 * CPU s per GiB and peaked at 82 instead of 208 MiB of RSS (bench/free-now.ts); through the gateway it
 * spares ~44 mark-compacts per GiB uploaded (`--trace-gc`, recorded in bench/results-2026-11.md).
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

/** Blocks below this come from the heap (glibc caps its dynamic threshold at 32 MiB): a sealed 1 MiB chunk does. */
const KEEP_BELOW_BYTES = 4 * 1024 * 1024;

/**
 * Makes glibc's malloc keep the memory a process frees and soon asks for again, instead of giving it
 * back to the kernel and faulting it in anew, 4 KiB at a time (each fault costly in this VM).
 *
 * At start glibc maps every block above 128 KiB on its own and unmaps it on free, and trims the
 * heap's top once 128 KiB lie free there. A process that turns a GiB through cipher.update() in
 * 256 KiB pieces, each freed at once (freeNow), so faulted in every page of every piece: ~350 faults
 * per MiB, and the cipher loop costs 4.9 CPU s/GiB instead of 0.83 (bench/malloc-keep.ts). A
 * gateway that has not yet freed a large mapped block uploads at 11 CPU s/GiB instead of 4.4
 * (`npm run bench -- --cases gw-put-512 --sizes 512`, bench/results-2026-11.md). glibc raises both limits for good the first time a mapped
 * block is freed (its dynamic mmap threshold: blocks below the freed one's size then come from the
 * heap, and the top is trimmed only past twice that), so one block of KEEP_BELOW_BYTES mapped and
 * freed at start-up sets them. It is never touched, so it costs no RSS; the heap may keep up to
 * twice its size free at its top. With another malloc (musl) it is one allocation and free.
 */
export function keepFreedMemory(): void {
  freeNow(Buffer.allocUnsafeSlow(KEEP_BELOW_BYTES));
}
