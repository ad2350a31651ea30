/**
 * Where each process's CPU went, kernel included, from a system-wide `perf record` taken while the
 * bench ran: samples by process (roles from the bench's JSON) and by category (sha256, AES-GCM, GC,
 * JS, kernel copies, TCP, file system, ...). V8 profiles (--cpu-prof) see JavaScript only and count
 * time spent descheduled; perf sees the CPU, in every thread.
 *   perf record -a -F 499 -o perf.data -- sleep 20      (while `npm run bench -- --cases ...` runs)
 *   perf script -i perf.data -F comm,pid,tid,ip,sym,dso > perf.txt
 *   npx node bench/perf-summary.ts perf.txt bench/results/<stamp>.json [case-key]
 */
import { readFileSync } from "node:fs";
import { fixed, markdownTable } from "./lib/table.ts";

const KERNEL: [string, RegExp][] = [
  ["kernel: copies", /copy_user|_copy_from_iter|_copy_to_iter|copy_page|rep_movs|memcpy|memmove|copy_mc/],
  [
    "kernel: memory (faults, page alloc/free)",
    /clear_page|do_anonymous|handle_mm_fault|page_fault|alloc_pages|get_page_from_freelist|rmqueue|folio_alloc|zap_|unmap_page|free_unref|free_pages|release_pages|lru|folio_batch|memcg|mem_cgroup|mmap|munmap|madvise|tlb/,
  ],
  ["kernel: TCP/loopback", /tcp|inet|ip_|skb|sock|net_|__dev|loopback|napi|sk_|netif|nf_|page_frag/],
  [
    "kernel: file system, block, virtio",
    /ext4|jbd2|mpage|filemap|folio|blk|bio|iomap|block|buffer|generic_perform_write|iov_iter|file_|vfs_|dentry|d_lookup|inode|path_|namei|fsnotify|crc32|writeback|xas_|iowrite|virtqueue|vring/,
  ],
  [
    "kernel: scheduler, futex",
    /schedule|switch_to|task_switch|try_to_wake|ttwu|enqueue|dequeue|pick_next|update_curr|futex|wake_up/,
  ],
  [
    "kernel: syscall entry, IRQ, epoll",
    /syscall|irqentry|_raw_spin|irq|apic|hrtimer|tick|ep_|epoll|eventfd|rcu/,
  ],
];
const GC =
  /Mark|Sweep|Scaveng|Evacuat|Compact|Worklist|PointersUpdating|FreeList|RememberedSet|SlotSet|MinorMS|Heap::|SizeFromMap|IterateBody|IteratePointers|BodyDescriptor|ArrayBufferSweeper|LargeObjectSpace|PagedSpace|MemoryAllocator|FlushedBytecode|BytecodeArrayForFlushing|ClearWeak|WeakObjects|GCTracer/;

function category(comm: string, sym: string, dso: string): string {
  if (/sha256|sha1_/.test(sym)) return "sha256";
  if (/aes|gcm|ghash/i.test(sym)) return "AES-GCM";
  if (dso.includes("kernel")) return KERNEL.find(([, re]) => re.test(sym))?.[0] ?? "kernel: other";
  if (comm.startsWith("V8Worker") || GC.test(sym)) return "GC (V8)";
  if (dso.includes("libc")) {
    if (/mem(cpy|move|set)/.test(sym)) return "libc memcpy/memset";
    if (/malloc|free|_int_|unlink_chunk|tcache|arena|sysmalloc|systrim/.test(sym)) return "malloc/free";
    return "libc other";
  }
  if (/^(Builtins_|v8::|\[unknown\])/.test(sym) || dso.startsWith("/tmp/perf-") || sym === "") {
    return "JS + V8 runtime";
  }
  if (/^(node::|uv_|uv__)/.test(sym)) return "node/libuv C++";
  return "other";
}

const [script, resultsFile, key] = process.argv.slice(2);
if (!script || !resultsFile) {
  process.stderr.write("usage: npx node bench/perf-summary.ts PERF_SCRIPT.txt RESULTS.json [case-key]\n");
  process.exit(2);
}
const results = JSON.parse(readFileSync(resultsFile, "utf8")) as {
  cases: Record<string, { pids: Record<string, number> }>;
};
const chosen = key ? results.cases[key] : Object.values(results.cases)[0];
if (!chosen) throw new Error(`no case ${key} in ${resultsFile}`);
const roleOf = new Map(Object.entries(chosen.pids).map(([role, pid]) => [String(pid), role]));

const counts = new Map<string, Map<string, number>>();
const totals = new Map<string, number>();
const LINE = /^\s*(.+?)\s+(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*) \((.*)\)\s*$/;
for (const line of readFileSync(script, "utf8").split("\n")) {
  const m = LINE.exec(line);
  if (!m) continue;
  const [, comm, pid, , sym, dso] = m as unknown as [string, string, string, string, string, string];
  const role = roleOf.get(pid);
  if (role === undefined) continue;
  const c = category(comm, sym, dso);
  const byCategory = counts.get(role) ?? new Map<string, number>();
  byCategory.set(c, (byCategory.get(c) ?? 0) + 1);
  counts.set(role, byCategory);
  totals.set(role, (totals.get(role) ?? 0) + 1);
}
const roles = Object.keys(chosen.pids).filter((r) => totals.has(r));
const sum = (c: string) => roles.reduce((s, r) => s + (counts.get(r)?.get(c) ?? 0), 0);
const categories = [...new Set(roles.flatMap((r) => [...(counts.get(r)?.keys() ?? [])]))].sort(
  (a, b) => sum(b) - sum(a),
);
const rows = categories.map((c) => [
  c,
  ...roles.map((r) => `${fixed((100 * (counts.get(r)?.get(c) ?? 0)) / totals.get(r)!, 1)}%`),
]);
rows.push(["samples", ...roles.map((r) => String(totals.get(r)))]);
process.stdout.write(
  `${markdownTable(
    ["category", ...roles],
    rows,
    roles.map((_, i) => i + 1),
  )}\n`,
);
