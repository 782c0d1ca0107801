# One image for every role; docker-compose.yml picks the role by command:
#   node node_modules/@nightshift/batcher/dist/bin.js      (nightshift-batcher)
#   node node_modules/@nightshift/collector/dist/bin.js    (nightshift-collector)
#   node node_modules/@nightshift/board/dist/bin.js        (nightshift-board)
#   node node_modules/@nightshift/api/dist/bin.js          (nightshift-api)
#   node node_modules/@nightshift/webhooks/dist/bin.js     (nightshift-webhooks)
#   node dist/bin.js <command>                             (the nightshift CLI: status, health, …)

# Build stage: the whole workspace with pnpm, compiled to each package's dist/ (tsc -b), then a
# production-only copy of @nightshift/cli, which depends on every role: `pnpm deploy --prod` copies
# the packages as they would be published (their `files`) with their production dependencies only.
FROM node:20-bookworm-slim AS build
ENV CI=true
RUN npm install -g pnpm@12.4.2
WORKDIR /src
COPY package.json pnpm-workspace.yaml pnpm-lock.yaml tsconfig.base.json tsconfig.package.json tsconfig.build.json ./
COPY packages ./packages
RUN pnpm install --frozen-lockfile
# A dist/ from the build context is never trusted: every package compiles afresh.
RUN rm -rf packages/*/dist && pnpm build && pnpm --filter @nightshift/cli deploy --prod /app

# Runtime stage: Node, tini as PID 1 (passes SIGTERM on to the role, which then shuts down
# gracefully, and reaps orphans), the deployed packages; no pnpm, no compiler, no dev dependencies.
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# Owned by root, so the unprivileged user below can read the code but not change it.
COPY --from=build /app ./
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/bin.js", "--help"]
