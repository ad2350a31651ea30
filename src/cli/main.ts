import { isDfsError } from "../errors.ts";
import { type Command, EXIT_FAILED, EXIT_USAGE } from "./command.ts";

/** Subcommands load lazily so `dfs get` does not pay for Fastify or ioredis. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  node: async () => (await import("./commands/node.ts")).nodeCommand,
  gateway: async () => (await import("./commands/gateway.ts")).gatewayCommand,
  nodes: async () => (await import("./commands/nodes.ts")).nodesCommand,
  put: async () => (await import("./commands/put.ts")).putCommand,
  get: async () => (await import("./commands/get.ts")).getCommand,
  stat: async () => (await import("./commands/stat.ts")).statCommand,
  rm: async () => (await import("./commands/rm.ts")).rmCommand,
  status: async () => (await import("./commands/status.ts")).statusCommand,
};

function usage(): string {
  return [
    "usage: dfs <command> [options]",
    "",
    "commands:",
    ...Object.keys(COMMANDS).map((name) => `  ${name}`),
    "",
    "Run `dfs <command> --help` for a command's options.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`dfs: unknown command "${name}"\n${usage()}\n`);
    return EXIT_USAGE;
  }
  const command = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code = isDfsError(err, "DFS_ERR_CONFIG") ? EXIT_USAGE : EXIT_FAILED;
    process.stderr.write(`dfs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = code;
  },
);
