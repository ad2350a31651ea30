import { CLIENT_OPTIONS_HELP, checkHash, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { Progress } from "../progress.ts";

export const getCommand: Command = {
  summary: "download a file by hash, verifying its SHA-256",
  usage: [
    "usage: dfs get HASH [-o FILE] [options]",
    "",
    "Downloads a file and checks that its bytes hash to HASH. With -o the file appears only once",
    "verified; without it the bytes go to stdout and a mismatch fails the command at the end.",
    "",
    "options:",
    "  -o, --output FILE               where to write the file",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { client, values, positionals } = clientArgs(argv, { output: { type: "string", short: "o" } });
    const hash = checkHash(positionals[0]);
    const out = values.output as string | undefined;
    let progress: Progress | undefined;
    await client.download(
      hash,
      out,
      (size) => {
        progress = new Progress(hash.slice(0, 12), size, process.stderr.isTTY === true && out !== undefined);
      },
      (n) => progress?.add(n),
    );
    progress?.finish();
    return EXIT_OK;
  },
};
