import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { splitName } from "../client/names-client.ts";
import { type Command, EXIT_OK } from "../command.ts";

export const lsCommand: Command = {
  summary: "list buckets, or a bucket's keys",
  usage: [
    "usage: dfs ls [BUCKET[/PREFIX]] [--recursive] [--json] [options]",
    "",
    "Without an argument, lists the buckets. With one, lists the keys under the prefix, one level",
    "at a time (deeper keys are rolled up as `PRE prefix/`) unless --recursive. Prints",
    "`<modified>  <size>  <key>`; --json prints one JSON object a line.",
    "",
    "options:",
    "  -r, --recursive                 every key under the prefix",
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { names, values, positionals } = clientArgs(argv, { recursive: { type: "boolean", short: "r" } });
    const out = (line: string) => process.stdout.write(`${line}\n`);
    if (positionals[0] === undefined) {
      for (const b of await names.buckets()) out(values.json ? JSON.stringify(b) : `${b.created}  ${b.name}`);
      return EXIT_OK;
    }
    const { bucket, key: prefix } = splitName(positionals[0]);
    let cursor: string | undefined;
    do {
      const page = await names.list(bucket, {
        prefix,
        delimiter: values.recursive ? undefined : "/",
        cursor,
      });
      for (const p of page.commonPrefixes)
        out(values.json ? JSON.stringify({ prefix: p }) : `${"PRE".padStart(37)}  ${p}`);
      for (const o of page.objects) {
        out(values.json ? JSON.stringify(o) : `${o.modified}  ${String(o.size).padStart(12)}  ${o.key}`);
      }
      cursor = page.next;
    } while (cursor !== undefined);
    return EXIT_OK;
  },
};
