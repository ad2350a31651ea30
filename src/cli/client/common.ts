import { clientSettings, loadClientConfig } from "../../config/index.ts";
import { DfsError } from "../../errors.ts";
import { isObjectId } from "../../formats/index.ts";
import { parseFlags } from "../flags.ts";
import { GatewayClient } from "./gateway-client.ts";
import { NamesClient } from "./names-client.ts";

export const CLIENT_OPTIONS_HELP = [
  "  --gateway URL                   gateway URL [DFS_GATEWAY], default http://127.0.0.1:8080",
  "  --api-key KEY                   API key sent as a Bearer token [DFS_API_KEY]",
  "  --config FILE                   config.json (its `client` section; also DFS_CONFIG)",
].join("\n");

/** Parses a client command's argv: the shared client flags plus the command's own. */
export function clientArgs(
  argv: string[],
  extra: Record<string, { type: "string" | "boolean"; short?: string }> = {},
): {
  client: GatewayClient;
  names: NamesClient;
  values: Readonly<Record<string, string | boolean | undefined>>;
  positionals: string[];
} {
  const { values, positionals } = parseFlags(argv, clientSettings(), { json: { type: "boolean" }, ...extra });
  const settings = loadClientConfig({
    file: values.config as string | undefined,
    env: process.env,
    flags: values,
  });
  return { client: new GatewayClient(settings), names: new NamesClient(settings), values, positionals };
}

export function checkHash(hash: string | undefined): string {
  if (hash === undefined || !isObjectId(hash)) {
    throw new DfsError(
      "DFS_ERR_CONFIG",
      `expected a file hash (64 lowercase hex characters), got "${hash ?? ""}"`,
    );
  }
  return hash;
}
