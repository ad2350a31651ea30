import { isObjectId } from "../../formats/index.ts";
import { CLIENT_OPTIONS_HELP, checkHash, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { Progress } from "../progress.ts";
import { isRemote, remoteKey } from "./names-args.ts";

export const getCommand: Command = {
  summary: "download a file by hash, verifying its SHA-256",
  usage: [
    "usage: dfs get HASH|BUCKET/KEY [-o FILE] [options]",
    "",
    "Downloads a file and checks that its bytes hash to HASH. With -o the file appears only once",
    "verified; without it the bytes go to stdout and a mismatch fails the command at the end.",
    "A BUCKET/KEY downloads the key's bytes, checked against the SHA-256 the gateway names.",
    "",
    "options:",
    "  -o, --output FILE               where to write the file",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { client, names, values, positionals } = clientArgs(argv, {
      output: { type: "string", short: "o" },
    });
    const out = values.output as string | undefined;
    const arg = positionals[0];
    if (arg !== undefined && !isObjectId(arg) && isRemote(arg)) {
      const { bucket, key } = remoteKey(arg);
      let bar: Progress | undefined;
      await names.get(
        bucket,
        key,
        out,
        (size) => {
          bar = new Progress(key, size, process.stderr.isTTY === true && out !== undefined);
        },
        (n) => bar?.add(n),
      );
      bar?.finish();
      return EXIT_OK;
    }
    const hash = checkHash(arg);
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
