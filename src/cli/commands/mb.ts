import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK, EXIT_USAGE } from "../command.ts";

export const mbCommand: Command = {
  summary: "make a bucket",
  usage: [
    "usage: dfs mb BUCKET... [options]",
    "",
    "Creates each bucket (S3's naming rules: 3-63 lower-case letters, digits, dots and hyphens).",
    "",
    "options:",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { names, positionals } = clientArgs(argv);
    if (positionals.length === 0) {
      process.stderr.write("dfs mb: name at least one bucket\n");
      return EXIT_USAGE;
    }
    for (const bucket of positionals) {
      await names.makeBucket(bucket);
      process.stdout.write(`made ${bucket}\n`);
    }
    return EXIT_OK;
  },
};
