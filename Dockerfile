# syntax=docker/dockerfile:1
# dfs-mesh: one image for `dfs node`, `dfs gateway` and the client commands.
# The image runs the compiled JavaScript (npm run build), not the TypeScript sources: type stripping
# costs every process about 30 MiB of RSS (bench/README.md), and the gateway has 200 MiB in all.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# With dev dependencies (typescript, esbuild for the web console). --ignore-scripts: the `node` devDependency (a Node binary for
# npm scripts) stays uninstalled, so npm scripts run the image's own Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json openapi.yaml ./
COPY src ./src
COPY console ./console
RUN npm run build && rm -f dist/.tsbuildinfo

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package.json says "type": "module": dist/ is ES modules.
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY openapi.yaml ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7100 8080
# Nodes answer a PING over the node protocol; gateways answer /healthz. Override per service.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:net').connect(process.env.DFS_HEALTH_PORT || 8080, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"]
# Node flags from src/runtime.ts (SERVICE_NODE_FLAGS): V8 reads them at start-up only.
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/cli/main.js"]
CMD ["--help"]
