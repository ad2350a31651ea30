import { CLIENT_OPTIONS_HELP, checkHash, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK } from "../command.ts";

export const rmCommand: Command = {
  summary: "delete a file by hash",
  usage: [
    "usage: dfs rm HASH... [options]",
    "",
    "The file stops being downloadable from every gateway at once; its space comes back when",
    "garbage collection runs.",
    "",
    "options:",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { client, positionals } = clientArgs(argv);
    const hashes = positionals.map((h) => checkHash(h));
    if (hashes.length === 0) checkHash(undefined);
    for (const hash of hashes) {
      await client.remove(hash);
      process.stdout.write(`deleted ${hash}\n`);
    }
    return EXIT_OK;
  },
};
