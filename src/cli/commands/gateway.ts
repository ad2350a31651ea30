import { loadGatewayConfig } from "../../config/index.ts";
import { addConsole } from "../../console/index.ts";
import { runGateway } from "../../gateway/index.ts";
import { startS3Beside } from "../../s3/index.ts";
import { serviceCommand } from "../service.ts";

export const gatewayCommand = serviceCommand({
  section: "gateway",
  summary: "run the HTTP gateway",
  intro: [
    "usage: dfs gateway [--listen HOST:PORT] (--sentinels HOST:PORT,... | --redis URL) [options]",
    "",
    "Runs the HTTP API (see openapi.yaml), and the S3 API too with --s3-listen. The cluster secret comes from DFS_CLUSTER_SECRET or",
    "--secret-file FILE, the cluster key from DFS_CLUSTER_KEY or --key-file FILE, its credential",
    "from --identity-file (`dfs credential issue --role gateway --id <listen address>`) with",
    "--authority-public-key, or, for development, --authority-key-file.",
  ],
  load: loadGatewayConfig,
  run: (config, logger) => runGateway(config, logger, startS3Beside, addConsole),
});
