# syntax=docker/dockerfile:1
# One image for every Framewire service; the command picks the app (see docker-compose.yml).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Plugin packages and the client (packages/client) are npm workspaces (linked into node_modules by
# name), so they come before npm ci.
COPY plugins ./plugins
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY scripts ./scripts
COPY apps ./apps
COPY libs ./libs
# Builds the services and the dashboard (Vite, into dist/dashboard); the dev tools are pruned after.
COPY bin ./bin
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
# ffprobe and ffmpeg run the pipelines; tini reaps them and forwards SIGTERM to node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /src/package.json ./
COPY --from=build --chown=node:node /src/node_modules ./node_modules
COPY --from=build --chown=node:node /src/dist ./dist
COPY --from=build --chown=node:node /src/bin ./bin
COPY --from=build --chown=node:node /src/plugins ./plugins
USER node
# 3000: the gateway (API, dashboard, /docs, /metrics); 9464 and 9465: the ops listeners (metrics,
# health) of the jobs service and of a worker.
EXPOSE 3000 9464 9465
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/apps/gateway/apps/gateway/src/main.js"]
