import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK, EXIT_USAGE } from "../command.ts";

export const rbCommand: Command = {
  summary: "remove an empty bucket",
  usage: [
    "usage: dfs rb BUCKET... [options]",
    "",
    "Deletes each bucket; one that still holds keys or unfinished uploads is refused.",
    "",
    "options:",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { names, positionals } = clientArgs(argv);
    if (positionals.length === 0) {
      process.stderr.write("dfs rb: name at least one bucket\n");
      return EXIT_USAGE;
    }
    for (const bucket of positionals) {
      await names.removeBucket(bucket);
      process.stdout.write(`removed ${bucket}\n`);
    }
    return EXIT_OK;
  },
};
