import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import type { NamesClient } from "../client/names-client.ts";
import { type Command, EXIT_OK, EXIT_USAGE } from "../command.ts";

/** `dfs mb` and `dfs rb`: one bucket call per name given, in order, stopping at the first error. */
function bucketCommand(
  name: string,
  summary: string,
  description: string,
  act: (names: NamesClient, bucket: string) => Promise<void>,
  done: string,
): Command {
  return {
    summary,
    usage: [
      `usage: dfs ${name} BUCKET... [options]`,
      "",
      description,
      "",
      "options:",
      CLIENT_OPTIONS_HELP,
    ].join("\n"),
    async run(argv) {
      const { names, positionals } = clientArgs(argv);
      if (positionals.length === 0) {
        process.stderr.write(`dfs ${name}: name at least one bucket\n`);
        return EXIT_USAGE;
      }
      for (const bucket of positionals) {
        await act(names, bucket);
        process.stdout.write(`${done} ${bucket}\n`);
      }
      return EXIT_OK;
    },
  };
}

export const mbCommand = bucketCommand(
  "mb",
  "make a bucket",
  "Creates each bucket (S3's naming rules: 3-63 lower-case letters, digits, dots and hyphens).",
  async (names, bucket) => {
    await names.makeBucket(bucket);
  },
  "made",
);

export const rbCommand = bucketCommand(
  "rb",
  "remove an empty bucket",
  "Deletes each bucket; one that still holds keys or unfinished uploads is refused.",
  (names, bucket) => names.removeBucket(bucket),
  "removed",
);
