#!/usr/bin/env -S node --max-semi-space-size=2
// (Node flags from src/runtime.ts, SERVICE_NODE_FLAGS: V8 reads them at start-up only.)
// The dfs command for development (npm link, npx dfs): Node 24 runs the TypeScript sources directly
// (type stripping). Production runs the compiled JavaScript instead: `npm run build`, then
// `node dist/cli/main.js` (what the Docker image does).
import "../src/cli/main.ts";
