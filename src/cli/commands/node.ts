import { loadNodeConfig } from "../../config/index.ts";
import { runNode } from "../../node/main.ts";
import { serviceCommand } from "../service.ts";

export const nodeCommand = serviceCommand({
  section: "node",
  summary: "run a storage node",
  intro: [
    "usage: dfs node --listen HOST:PORT --data DIR [options]",
    "",
    "Runs a storage node. The cluster secret comes from DFS_CLUSTER_SECRET or --secret-file FILE;",
    "its credential from --identity-file (`dfs credential issue --role node --id ID`, ID the one in",
    "<data>/node-id) with --authority-public-key, or, for development, --authority-key-file.",
  ],
  load: loadNodeConfig,
  run: runNode,
});
