import { stat } from "node:fs/promises";
import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK, EXIT_USAGE } from "../command.ts";
import { Progress } from "../progress.ts";
import { isRemote, remoteKey } from "./names-args.ts";

export const putCommand: Command = {
  summary: "upload files; prints each file's hash",
  usage: [
    "usage: dfs put FILE... [--json] [options]",
    "       dfs put FILE BUCKET/KEY [--json] [options]",
    "",
    "Uploads each file (streamed; a progress bar on a terminal) and prints `<hash>  <file>`, as",
    "sha256sum does. --json prints the gateway's answer for each file instead. With a BUCKET/KEY",
    "(that is not a local path) the file is stored under that key (a KEY ending in / takes the",
    "file's name after it) and `<sha256>  <bucket/key>` is printed.",
    "",
    "options:",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { client, names, values, positionals } = clientArgs(argv);
    if (positionals.length === 0) {
      process.stderr.write("dfs put: name at least one file\n");
      return EXIT_USAGE;
    }
    if (positionals.length === 2 && isRemote(positionals[1]!)) {
      const path = positionals[0]!;
      const { bucket, key } = remoteKey(positionals[1]!, path);
      const progress = new Progress(path, (await stat(path)).size);
      const entry = await names.put(path, bucket, key, (n) => progress.add(n));
      progress.finish();
      process.stdout.write(
        values.json ? `${JSON.stringify(entry)}\n` : `${entry.sha256}  ${bucket}/${key}\n`,
      );
      return EXIT_OK;
    }
    for (const path of positionals) {
      const progress = new Progress(path, (await stat(path)).size);
      const result = await client.upload(path, (n) => progress.add(n));
      progress.finish();
      process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${result.hash}  ${path}\n`);
    }
    return EXIT_OK;
  },
};
