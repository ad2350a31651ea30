import { DfsError } from "../../errors.ts";
import { CLIENT_OPTIONS_HELP, clientArgs } from "../client/common.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { renderTable } from "./nodes.ts";

interface Grant {
  bucket: string;
  read: boolean;
  write: boolean;
  owner: boolean;
}
interface ShownKey {
  id: string;
  name: string;
  grants: Grant[];
  createdMs: number;
  secret?: string;
}

const usageError = (message: string) => new DfsError("DFS_ERR_CONFIG", message);

/** "photos:rw, logs:o" */
function grantsText(grants: readonly Grant[]): string {
  if (grants.length === 0) return "-";
  const flags = (g: Grant) => `${g.read ? "r" : ""}${g.write ? "w" : ""}${g.owner ? "o" : ""}`;
  return grants.map((g) => `${g.bucket}:${flags(g)}`).join(", ");
}

export function renderKeys(keys: readonly ShownKey[]): string {
  if (keys.length === 0) return "no access keys\n";
  return renderTable([
    ["ID", "NAME", "GRANTS", "CREATED"],
    ...keys.map((k) => [k.id, k.name, grantsText(k.grants), new Date(k.createdMs).toISOString()]),
  ]);
}

export const keyCommand: Command = {
  summary: "access keys kept in the cluster: create, list, allow, delete",
  usage: [
    "usage: dfs key create NAME | list | allow ID BUCKET [--read] [--write] [--owner] | delete ID",
    "",
    "Access keys live in the cluster (their secrets sealed with the cluster key), so every gateway",
    "knows them at once. `create` prints the id and the secret: the secret is shown only then.",
    "Use a key as --api-key ID:SECRET (Bearer ID:SECRET on /v1), or to sign S3 requests.",
    "`allow` sets the key's grant on BUCKET (`*` is every bucket and the hash API): read = get,",
    "head, list; write = put, delete, copy, multipart; owner = create and delete the bucket and",
    "grant within it. `allow` with no flag removes the key's grant on BUCKET. `list` never prints",
    "secrets. These commands need an admin API key (`allow` also an owner access key).",
    "",
    "options:",
    `${"  --json".padEnd(32)}print JSON`,
    CLIENT_OPTIONS_HELP,
  ].join("\n"),
  async run(argv) {
    const { client, values, positionals } = clientArgs(argv, {
      read: { type: "boolean" },
      write: { type: "boolean" },
      owner: { type: "boolean" },
    });
    const [action, ...args] = positionals;
    const print = (json: unknown, text: string) =>
      process.stdout.write(values.json === true ? `${JSON.stringify(json, null, 2)}\n` : text);
    const want = (n: number, what: string) => {
      if (args.length !== n) throw usageError(`usage: dfs key ${action} ${what}`);
    };
    switch (action) {
      case "create": {
        want(1, "NAME");
        const key = (await client.createKey(args[0]!)) as unknown as ShownKey;
        print(key, `id      ${key.id}\nsecret  ${key.secret}\n(the secret is shown only now)\n`);
        return EXIT_OK;
      }
      case "list": {
        want(0, "");
        const list = (await client.listKeys()) as unknown as { keys: ShownKey[] };
        print(list.keys, renderKeys(list.keys));
        return EXIT_OK;
      }
      case "allow": {
        want(2, "ID BUCKET [--read] [--write] [--owner]");
        const grant = {
          bucket: args[1]!,
          read: values.read === true,
          write: values.write === true,
          owner: values.owner === true,
        };
        const key = (await client.grantKey(args[0]!, grant)) as unknown as ShownKey;
        print(key, `${key.id}  ${grantsText(key.grants)}\n`);
        return EXIT_OK;
      }
      case "delete": {
        want(1, "ID");
        await client.deleteKey(args[0]!);
        print({ deleted: args[0] }, `deleted ${args[0]}\n`);
        return EXIT_OK;
      }
      default:
        throw usageError(`dfs key: expected create, list, allow or delete, got "${action ?? ""}"`);
    }
  },
};
