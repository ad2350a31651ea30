/*
 * The storage node's object store on disk. Layout under the data dir:
 *
 *   lock.db                the kernel file lock of the node process using this directory (dir-lock.ts).
 *   alive                  when the node last took part in its cluster, ms since the epoch (alive-mark.ts).
 *   node-id                this node's id: 32 lowercase hex chars, random, created once (temp file,
 *                          fsync, link into place) and kept across restarts.
 *   chunks/ab/cd/<id>      a chunk: its bytes, id = SHA-256 hex of them (ab = id[0..2], cd = id[2..4]).
 *   manifests/ab/cd/<id>   a manifest: a 32-byte raw SHA-256 of the body, then the body. The id is the
 *                          gateway's; the header lets the node scrub it without keys. Sizes are body sizes.
 *   packs/<n>.pack         bodies of at most 64 KiB, as records appended in group-committed batches
 *                          (pack-log.ts). When an id is both in a pack and a file, the pack's is
 *                          the newer: open removes such files.
 *   chunks/ab/cd/.tmp-<id>-<pid>.<random>.<n>, and the same under manifests/: a write in progress,
 *                          in the directory of the object it will become; removed on open, so a crash
 *                          never leaves a partial object. Never listed (not an id).
 *   tmp/                   the node id's temp file; emptied on open.
 *   quarantine/<kind>-<id> copies that failed verification, moved aside for inspection.
 *
 * ObjectStore (object-store.ts) keeps objects through two layouts behind one interface
 * (object-layout.ts): the pack log (pack-log.ts) and a file per object (file-layout.ts).
 *
 * With packs on, a body of at most 64 KiB (a manifest, a small file's chunk) is hashed and
 * copied into a reused buffer as it arrives, then appended to the pack log with the other writes
 * of the moment: one writev and one fdatasync for the batch. A larger write goes: temp file in the
 * object's own fan-out directory (made first if need be) -> pieces hashed as they arrive -> size
 * and hash checked -> fdatasync (fsync on) -> rename to the object's name in the same directory ->
 * fsync of the directory, and of the parent of a fan-out directory the write created (fsync on).
 * Only then does commit() resolve: an object is either absent or whole and verified. Directory
 * fsyncs are group-committed (dir-sync.ts, fanout-dirs.ts): renames that finish together share one
 * round, but a commit always waits for a round that started after its own rename. Temp files
 * beside their objects, not in one shared directory, measured +11% for 512 MiB uploads through the
 * gateway and +18% for chains of 3 nodes (bench/README.md): creating and renaming every write's
 * file in one directory serialised the pool threads on it, and every fdatasync of a new file wrote
 * that directory back too.
 *
 * The write path avoids thread-pool round trips (~25-35 µs of CPU each here, and a wait behind the
 * fsyncs that occupy the pool) where a call does not wait for the disk: free space comes from a
 * statfs at most 500 ms old (disk-space.ts), the existence check before a rename is a statSync (in
 * the directory the write just made sure of, so cached), a manifest's header goes out with its
 * first body write, and descriptors are closed directly. Opening the temp file, writing data,
 * fdatasync and rename stay on the pool: they allocate or wait for the disk. Lookups that may meet
 * a cold directory (has, size, mkdir, a GET's open) stay there too.
 *
 * Bodies of small objects (<= 64 KiB: manifests, small files' chunks) stored or read lately are
 * also kept in memory, bounded by cacheBytes (object-cache.ts): a GET of one costs no thread-pool
 * round trip at all. Every change of an object changes its entry under the same lock.
 */
export { AliveMark } from "./alive-mark.ts";
export { type BodyRange, ObjectStore } from "./object-store.ts";
export { MANIFEST_HEADER_BYTES } from "./paths.ts";
export type { ObjectWriter, StoreChanges, StoreOptions, WriteRequest } from "./types.ts";
