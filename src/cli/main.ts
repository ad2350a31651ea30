import { isDfsError } from "../errors.ts";
import { type Command, EXIT_FAILED, EXIT_USAGE } from "./command.ts";

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

/** Subcommands load lazily so `dfs get` does not pay for Fastify or ioredis. */
const COMMANDS: Record<string, Entry> = {
  dev: {
    summary: "run a whole local cluster",
    load: async () => (await import("./commands/dev.ts")).devCommand,
  },
  node: { summary: "run a storage node", load: async () => (await import("./commands/node.ts")).nodeCommand },
  gateway: {
    summary: "run the HTTP gateway",
    load: async () => (await import("./commands/gateway.ts")).gatewayCommand,
  },
  put: {
    summary: "upload files (by hash, or to a key)",
    load: async () => (await import("./commands/put.ts")).putCommand,
  },
  get: {
    summary: "download a file by hash or key (verified)",
    load: async () => (await import("./commands/get.ts")).getCommand,
  },
  stat: {
    summary: "a file's metadata and chunk copies",
    load: async () => (await import("./commands/stat.ts")).statCommand,
  },
  credential: {
    summary: "make the cluster authority and issue credentials",
    load: async () => (await import("./commands/credential.ts")).credentialCommand,
  },
  rm: {
    summary: "delete files by hash, or keys",
    load: async () => (await import("./commands/rm.ts")).rmCommand,
  },
  mb: { summary: "make a bucket", load: async () => (await import("./commands/buckets.ts")).mbCommand },
  rb: {
    summary: "remove an empty bucket",
    load: async () => (await import("./commands/buckets.ts")).rbCommand,
  },
  ls: {
    summary: "list buckets, or a bucket's keys",
    load: async () => (await import("./commands/ls.ts")).lsCommand,
  },
  cp: {
    summary: "copy between keys and local files",
    load: async () => (await import("./commands/cp.ts")).cpCommand,
  },
  nodes: {
    summary: "the registry's view of the nodes",
    load: async () => (await import("./commands/nodes.ts")).nodesCommand,
  },
  key: {
    summary: "access keys: create, list, allow, delete",
    load: async () => (await import("./commands/key.ts")).keyCommand,
  },
  status: {
    summary: "is the cluster ready, and its nodes",
    load: async () => (await import("./commands/status.ts")).statusCommand,
  },
};

function usage(): string {
  return [
    "usage: dfs <command> [options]",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([name, e]) => `  ${name.padEnd(10)}${e.summary}`),
    "",
    "Run `dfs <command> --help` for a command's options. Exit codes: 0 ok, 1 failed, 2 bad usage or configuration.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`dfs: unknown command "${name}"\n${usage()}\n`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
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
    const prefix = isDfsError(err) ? `${err.code}: ` : "";
    process.stderr.write(`dfs: ${prefix}${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = code;
  },
);
