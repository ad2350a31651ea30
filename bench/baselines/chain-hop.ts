/**
 * Baseline: one hop of a plain node:net chain (client -> A -> B -> C). Each connection is one
 * transfer ending with the client's FIN. The hop forwards every byte to the next hop as it arrives
 * and cuts the stream into 1 MiB files, each fsynced (see piece-files.ts). When the upstream ends
 * it ends the downstream, waits for the downstream's acknowledgement and its own fsyncs, then
 * acknowledges upstream with the byte count. allowHalfOpen keeps the way back open after the FIN.
 * Run: node bench/baselines/chain-hop.ts --dir DIR [--next HOST:PORT] [--piece BYTES]
 */
import { connect, createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { PieceFiles } from "./piece-files.ts";
import { announce, drained, encodeCount, exitOnSignal, parseAddr, readCount } from "./wire.ts";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    next: { type: "string" },
    piece: { type: "string", default: String(1024 * 1024) },
  },
});
if (!values.dir) throw new Error("--dir is required");
const dir = values.dir;
const pieceBytes = Number(values.piece);
const next = values.next ? parseAddr(values.next) : undefined;
let connections = 0;

async function relay(up: Socket): Promise<void> {
  const files = new PieceFiles(dir, `c${++connections}`, pieceBytes);
  const down = next ? connect({ ...next, allowHalfOpen: true, noDelay: true }) : undefined;
  const downAck = down ? readCount(down) : undefined;
  downAck?.catch(() => {}); // awaited below; a failure before then must not crash the hop
  try {
    for await (const data of up.iterator({ destroyOnReturn: false })) {
      const buf = data as Buffer;
      if (down && !down.write(buf)) await drained(down);
      await files.write(buf);
    }
    down?.end();
    const [, downstream] = await Promise.all([files.finish(), downAck ?? Promise.resolve(files.bytes)]);
    if (downstream !== files.bytes) throw new Error(`downstream stored ${downstream} of ${files.bytes}`);
    up.end(encodeCount(files.bytes));
  } catch (err) {
    process.stderr.write(`chain-hop: ${(err as Error).message}\n`);
    up.destroy();
    down?.destroy();
  }
}

const server = createServer({ allowHalfOpen: true, noDelay: true }, (up) => {
  up.on("error", () => {});
  void relay(up);
});
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  if (a === null || typeof a === "string") throw new Error("no TCP address");
  announce(`127.0.0.1:${a.port}`);
});
exitOnSignal(() => server.close());
