import { CLIENT_OPTIONS_HELP, checkHash, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { formatBytes } from "../progress.ts";

export const statCommand: Command = {
  summary: "show a file's metadata and where its chunks are",
  usage: ["usage: dfs stat HASH [--json] [options]", "", "options:", CLIENT_OPTIONS_HELP].join("\n"),
  async run(argv) {
    const { client, values, positionals } = clientArgs(argv);
    const meta = (await client.meta(checkHash(positionals[0]))) ?? {};
    if (values.json) {
      process.stdout.write(`${JSON.stringify(meta, null, 2)}\n`);
      return EXIT_OK;
    }
    const chunks = Array.isArray(meta.chunks) ? (meta.chunks as { nodes?: unknown[] }[]) : [];
    const copies = chunks.map((c) => (Array.isArray(c.nodes) ? c.nodes.length : 0));
    const lines = [
      `hash:         ${String(meta.hash)}`,
      `name:         ${String(meta.name)}`,
      `size:         ${formatBytes(Number(meta.size))} (${String(meta.size)} bytes)`,
      `content type: ${String(meta.contentType)}`,
      `chunks:       ${chunks.length}`,
      `copies:       ${copies.length ? `${Math.min(...copies)}..${Math.max(...copies)} per chunk` : "-"}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT_OK;
  },
};
