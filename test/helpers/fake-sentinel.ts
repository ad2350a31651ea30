/**
 * A fake Redis Sentinel on a real loopback socket, speaking just enough RESP for ioredis: it tells
 * clients whatever master the test sets (`resolveTo`), so a test can play a Sentinel that lags
 * behind a failover and hands out the old master. `SENTINEL master` reports `truth` with its
 * `epoch`, or nothing at all while `mute` (a Sentinel too slow to answer); `publishSwitch` sends
 * a `+switch-master` message to its subscribers.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface FakeSentinel {
  readonly port: number;
  /** What `SENTINEL get-master-addr-by-name` answers. */
  resolveTo: { host: string; port: number };
  /** What `SENTINEL master` answers, with `epoch` (7 unless set). */
  truth: { host: string; port: number };
  epoch: number;
  /** `SENTINEL master` goes unanswered. */
  mute: boolean;
  /** `SENTINEL master` queries left unanswered whose client then gave up (closed the connection). */
  readonly unanswered: number;
  /** Tells every `+switch-master` subscriber the master moved from `from` to `to`. */
  publishSwitch(from: { host: string; port: number }, to: { host: string; port: number }): void;
  /** How many times a client asked for the master's address. */
  readonly lookups: number;
  close(): Promise<void>;
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const array = (items: string[]) => `*${items.length}\r\n${items.map(bulk).join("")}`;

/** Parses complete RESP arrays of bulk strings from `buffer`; returns the commands and the rest. */
function parse(buffer: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const start = at;
    const line = (from: number) => {
      const end = buffer.indexOf("\r\n", from);
      return end < 0 ? undefined : { text: buffer.toString("latin1", from, end), next: end + 2 };
    };
    const head = line(at);
    if (head?.text[0] !== "*") return { commands, rest: buffer.subarray(start) };
    const args: string[] = [];
    let pos = head.next;
    let complete = true;
    for (let i = 0; i < Number(head.text.slice(1)); i++) {
      const len = line(pos);
      const n = Number(len?.text.slice(1));
      if (!len || len.next + n + 2 > buffer.length) {
        complete = false;
        break;
      }
      args.push(buffer.toString("utf8", len.next, len.next + n));
      pos = len.next + n + 2;
    }
    if (!complete) return { commands, rest: buffer.subarray(start) };
    commands.push(args);
    at = pos;
  }
}

export async function startFakeSentinel(
  masterName: string,
  initial: { host: string; port: number },
): Promise<FakeSentinel> {
  const sockets = new Set<Socket>();
  const subscribers = new Set<Socket>();
  let lookups = 0;
  let unanswered = 0;
  const fake = {
    port: 0,
    resolveTo: initial,
    truth: initial,
    epoch: 7,
    mute: false,
    get lookups() {
      return lookups;
    },
    get unanswered() {
      return unanswered;
    },
    publishSwitch(from, to) {
      const message = `${masterName} ${from.host} ${from.port} ${to.host} ${to.port}`;
      for (const s of subscribers) s.write(array(["message", "+switch-master", message]));
    },
  } as FakeSentinel & { port: number };

  const reply = (cmd: string[]): string | undefined => {
    const [name = "", sub = "", arg = ""] = cmd.map((x, i) => (i < 2 ? x.toLowerCase() : x));
    if (name === "ping") return "+PONG\r\n";
    if (name === "client" || name === "select") return "+OK\r\n";
    if (name === "info") return bulk("# Server\r\nredis_mode:sentinel\r\n");
    if (name === "subscribe") return `*3\r\n${bulk("subscribe")}${bulk(sub)}:1\r\n`;
    if (name === "quit") return "+OK\r\n";
    if (name === "sentinel" && arg === masterName) {
      if (sub === "get-master-addr-by-name") {
        lookups++;
        return array([fake.resolveTo.host, String(fake.resolveTo.port)]);
      }
      if (sub === "master") {
        if (fake.mute) return undefined;
        const { host, port } = fake.truth;
        return array([
          "name",
          masterName,
          "ip",
          host,
          "port",
          String(port),
          "flags",
          "master",
          "config-epoch",
          String(fake.epoch),
        ]);
      }
      if (sub === "sentinels") return "*0\r\n";
    }
    return `-ERR unknown command '${cmd[0]}'\r\n`;
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let pending = 0;
    socket.on("close", () => {
      sockets.delete(socket);
      subscribers.delete(socket);
      unanswered += pending;
    });
    socket.on("error", () => {});
    let partial: Buffer = Buffer.alloc(0);
    socket.on("data", (data) => {
      const { commands, rest } = parse(Buffer.concat([partial, data]));
      partial = rest;
      for (const cmd of commands) {
        if (cmd[0]?.toLowerCase() === "subscribe") subscribers.add(socket);
        const answer = reply(cmd);
        if (answer !== undefined) socket.write(answer);
        else pending++;
        if (cmd[0]?.toLowerCase() === "quit") socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.port = (server.address() as { port: number }).port;
  fake.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return fake;
}
