import { stat } from "node:fs/promises";
import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK, EXIT_USAGE } from "../command.ts";
import { Progress } from "../progress.ts";
import { isRemote, remoteKey } from "./names-args.ts";

export const cpCommand: Command = {
  summary: "copy between keys, or between a local file and a key",
  usage: [
    "usage: dfs cp SOURCE TARGET [options]",
    "",
    "bucket/key to bucket/key: the target names the same stored file (no data copied).",
    "A local file to bucket/key (or bucket/prefix/): an upload. bucket/key to a local file: a",
    "verified download.",
    "",
    "options:",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { names, values, positionals } = clientArgs(argv);
    const [source, target] = positionals;
    if (source === undefined || target === undefined || positionals.length > 2) {
      process.stderr.write("dfs cp: name a source and a target\n");
      return EXIT_USAGE;
    }
    if (isRemote(source) && isRemote(target)) {
      const from = remoteKey(source);
      const entry = await names.copy(from, remoteKey(target, from.key.split("/").pop()));
      process.stdout.write(values.json ? `${JSON.stringify(entry)}\n` : `${entry.etag}  ${target}\n`);
    } else if (isRemote(target)) {
      const to = remoteKey(target, source);
      const progress = new Progress(source, (await stat(source)).size);
      const entry = await names.put(source, to.bucket, to.key, (n) => progress.add(n));
      progress.finish();
      process.stdout.write(
        values.json ? `${JSON.stringify(entry)}\n` : `${entry.etag}  ${to.bucket}/${to.key}\n`,
      );
    } else if (isRemote(source)) {
      const from = remoteKey(source);
      let progress: Progress | undefined;
      await names.get(
        from.bucket,
        from.key,
        target,
        (size) => {
          progress = new Progress(from.key, size);
        },
        (n) => progress?.add(n),
      );
      progress?.finish();
    } else {
      process.stderr.write("dfs cp: one side at least is bucket/key\n");
      return EXIT_USAGE;
    }
    return EXIT_OK;
  },
};
