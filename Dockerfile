# syntax=docker/dockerfile:1
# dfs-mesh: one image for `dfs node`, `dfs gateway` and the client commands.
# Node 24 runs the TypeScript sources directly (type stripping): no build step.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the `node` devDependency (a Node binary for npm scripts) is not needed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY openapi.yaml ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7100 8080
# Nodes answer a PING over the node protocol; gateways answer /healthz. Override per service.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:net').connect(process.env.DFS_HEALTH_PORT || 8080, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"]
ENTRYPOINT ["node", "bin/dfs.js"]
CMD ["--help"]
