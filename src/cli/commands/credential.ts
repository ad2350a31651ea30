import { readFile, writeFile } from "node:fs/promises";
import {
  encodeIdentityFile,
  issueIdentity,
  newSeed,
  ROLES,
  type Role,
  signingKeyFromSeed,
} from "../../credentials/index.ts";
import { DfsError } from "../../errors.ts";
import { type Command, EXIT_OK } from "../command.ts";
import { parseFlags } from "../flags.ts";

const DAY_MS = 24 * 3_600_000;

function usageError(message: string): DfsError {
  return new DfsError("DFS_ERR_CONFIG", message);
}

async function readAuthority(path: string) {
  const text = (await readFile(path, "utf8")).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text))
    throw usageError(`${path}: expected the authority's 64 hex characters`);
  return signingKeyFromSeed(Buffer.from(text, "hex"));
}

/** Writes a secret file once, mode 0600: never overwrites an existing authority or identity. */
async function writeSecretFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw usageError(`${path} exists; not overwritten`);
    throw err;
  }
}

export const credentialCommand: Command = {
  summary: "make the cluster authority and issue credentials",
  usage: [
    "usage: dfs credential authority --out FILE",
    "       dfs credential issue --role node|gateway|admin --id ID --authority-key-file FILE --out FILE [--days N]",
    "",
    "`authority` creates the cluster authority's private key (keep it offline) and prints its public",
    "key, which every node and gateway is given (--authority-public-key). `issue` makes a key pair for",
    "one process and signs its credential: a node's id is the one in its data folder (<data>/node-id).",
    "Give the file to that process as --identity-file. Issue a new one before --days runs out (default",
    "365) and restart the process with it; the old one stays valid until it expires.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseFlags(argv, [], {
      out: { type: "string" },
      role: { type: "string" },
      id: { type: "string" },
      "authority-key-file": { type: "string" },
      days: { type: "string" },
    });
    const out = values.out as string | undefined;
    if (out === undefined) throw usageError("--out FILE is required");
    switch (positionals[0]) {
      case "authority": {
        const seed = newSeed();
        await writeSecretFile(out, `${seed.toString("hex")}\n`);
        process.stdout.write(`${signingKeyFromSeed(seed).publicKey.toString("hex")}\n`);
        return EXIT_OK;
      }
      case "issue": {
        const role = values.role as string | undefined;
        if (role === undefined || !Object.hasOwn(ROLES, role))
          throw usageError("--role node|gateway|admin is required");
        const id = values.id as string | undefined;
        if (id === undefined || id === "") throw usageError("--id ID is required");
        const authorityFile = values["authority-key-file"] as string | undefined;
        if (authorityFile === undefined) throw usageError("--authority-key-file FILE is required");
        const days = Number(values.days ?? 365);
        if (!Number.isSafeInteger(days) || days < 1)
          throw usageError("--days: a whole number of days, at least 1");
        const issued = issueIdentity(
          await readAuthority(authorityFile),
          role as Role,
          id,
          Date.now(),
          days * DAY_MS,
        );
        await writeSecretFile(out, encodeIdentityFile(issued.identity.credential, issued.seed));
        process.stdout.write(
          `${role} ${id}: ${out}, valid until ${new Date(issued.identity.credential.notAfterMs).toISOString()}\n`,
        );
        return EXIT_OK;
      }
      default:
        throw usageError("expected `dfs credential authority` or `dfs credential issue`");
    }
  },
};
