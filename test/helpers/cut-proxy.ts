import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a listener whose connections the test can cut: every open connection
 * is destroyed and new ones are refused until `restore()`, as when a network drops.
 */
export interface CutProxy {
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
  /** Connections cut so far. */
  readonly cutCount: number;
}

export async function startCutProxy(target: string): Promise<CutProxy> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(":")),
    Number(target.slice(target.lastIndexOf(":") + 1)),
  ];
  const open = new Set<Socket>();
  let down = false;
  let cutCount = 0;
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(port, host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    get cutCount() {
      return cutCount;
    },
    cut() {
      down = true;
      for (const s of open) {
        s.destroy();
        cutCount++;
      }
      open.clear();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
