/**
 * Node flags every long-running dfs process (`dfs node`, `dfs gateway`) starts with. V8 reads them
 * at start-up only, so whatever starts one passes them: the Docker image's ENTRYPOINT, bin/dfs.js's
 * shebang, `dfs dev`, the bench (test/compose.test.ts keeps the first two in step with this list).
 *
 * --max-semi-space-size=2 (MiB): under a high request rate V8 grows the young generation to its
 * 16 MiB semi-spaces and keeps them: a gateway that has served 6000 small uploads and downloads sits
 * at 173 MiB RSS idle (94 MB of heap committed, 39 used). With 2 MiB semi-spaces the gateway stays
 * under 200 MiB and a node under 150 MiB through `npm run bench -- --big`, 2 GiB transfers last, at
 * no measurable cost in CPU (bench/README.md; the comparison in bench/results-2026-11.md).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];
