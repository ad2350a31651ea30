import { isObjectId } from "../../formats/index.ts";
import { CLIENT_OPTIONS_HELP, checkHash, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { isRemote, remoteKey } from "./names-args.ts";

export const rmCommand: Command = {
  summary: "delete files by hash, or keys",
  usage: [
    "usage: dfs rm HASH|BUCKET/KEY... [options]",
    "",
    "A key stops being readable from every gateway at once. A file deleted by hash does too,",
    "unless a key still holds it. Space comes back when garbage collection runs.",
    "",
    "options:",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { client, names, positionals } = clientArgs(argv);
    const targets = positionals.map((arg) =>
      !isObjectId(arg) && isRemote(arg) ? { name: remoteKey(arg), arg } : { hash: checkHash(arg), arg },
    );
    if (targets.length === 0) checkHash(undefined);
    for (const t of targets) {
      if (t.name !== undefined) await names.remove(t.name.bucket, t.name.key);
      else await client.remove(t.hash);
      process.stdout.write(`deleted ${t.arg}\n`);
    }
    return EXIT_OK;
  },
};
