# One image for every role; the compose file picks the role by command.
FROM node:20-bookworm-slim
ENV NODE_ENV=production CI=true
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY package.json pnpm-workspace.yaml pnpm-lock.yaml ./
COPY packages ./packages
RUN pnpm install --frozen-lockfile
COPY . .
USER node
# Roles: packages/batcher/src/bin.ts, packages/collector/src/bin.ts, packages/board/src/bin.ts
ENTRYPOINT ["pnpm", "exec", "tsx"]
