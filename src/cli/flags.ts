import { parseArgs } from "node:util";
import type { FlagValues, Setting } from "../config/index.ts";
import { DfsError } from "../errors.ts";

type OptionSpec = { type: "string" | "boolean"; short?: string };

/**
 * Parses argv against the settings table (plus extra options of the command). Boolean settings
 * also accept `--no-NAME`. Unknown flags are a usage error that names the flag.
 */
export function parseFlags(
  argv: string[],
  settings: readonly Setting[],
  extra: Record<string, OptionSpec> = {},
): { values: FlagValues; positionals: string[] } {
  const options: Record<string, OptionSpec> = { config: { type: "string" }, ...extra };
  for (const s of settings) {
    if (s.kind === "bool") {
      options[s.flag] = { type: "boolean" };
      options[`no-${s.flag}`] = { type: "boolean" };
    } else {
      options[s.flag] = { type: "string" };
    }
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const out: Record<string, string | boolean | undefined> = { ...values } as Record<
      string,
      string | boolean
    >;
    for (const s of settings) {
      if (s.kind === "bool" && out[`no-${s.flag}`] === true) out[s.flag] = false;
    }
    return { values: out, positionals };
  } catch (err) {
    throw new DfsError("DFS_ERR_CONFIG", (err as Error).message, { cause: err });
  }
}

/** The options section of a command's help, from the settings table. */
export function describeSettings(settings: readonly Setting[]): string {
  return settings
    .map((s) => {
      const flag = `  --${s.flag}${s.kind === "bool" ? "" : " VALUE"}`;
      return `${flag.padEnd(32)}${s.help} [${s.env}]`;
    })
    .join("\n");
}
