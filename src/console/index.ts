/**
 * The web console at /ui/ on the gateway's port: static files built from console/ (npm run
 * build:ui), a session cookie sealed with a key derived from the cluster key, and a small JSON API
 * beside the /v1 routes the browser calls with that cookie. ARCHITECTURE.md, "Web console".
 */
import type { AppExtension } from "../gateway/index.ts";
import { consoleApiRoutes, sessionAuth } from "./routes.ts";
import { SessionSeal } from "./session.ts";
import { loadStatic, sendStatic } from "./static.ts";

export { SESSION_COOKIE } from "./session.ts";
export { CONSOLE_CSP, UI_DIR } from "./static.ts";

/** Adds the console to a gateway app unless `gateway.console` is off. */
export const addConsole: AppExtension = (app, config, logger, s3Address) => {
  if (!config.gateway.console) return;
  const files = loadStatic();
  if (files === undefined) logger.warn("the web console is not built (npm run build:ui): /ui/ answers 503");
  const options = {
    ctx: app.shared.ctx,
    config,
    seal: new SessionSeal(config.key),
    s3Address,
    now: () => Date.now(),
  };
  app.shared.useSessions(sessionAuth(options));
  app.register(async (scope) => {
    // The router ignores trailing slashes: /ui is this route too (the page names its assets absolutely).
    scope.get("/ui/", { config: { access: "public" } }, async (request, reply) =>
      sendStatic(files, "index.html", request, reply),
    );
    scope.get<{ Params: { file: string } }>(
      "/ui/:file",
      { config: { access: "public" } },
      async (request, reply) => sendStatic(files, request.params.file, request, reply),
    );
    await consoleApiRoutes(scope, options);
  });
};
