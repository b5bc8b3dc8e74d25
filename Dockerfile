# natsrpc: one image for the supervisor and every worker. The entry point is the natsrpc CLI:
#   docker run natsrpc worker dist/workers/math.js --servers nats://nats:4222
# Stage 1 compiles the TypeScript sources to dist/ (npm ci runs the "prepare" build) and keeps
# only the production dependencies; stage 2 copies only what runs (compiled JavaScript, no
# TypeScript loader), and runs it as the unprivileged "node" user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN chmod 0755 bin/natsrpc.js && ln -s /app/bin/natsrpc.js /usr/local/bin/natsrpc
# Code and dependencies stay owned by root: the service user can read them, not change them.
USER node
ENTRYPOINT ["natsrpc"]
CMD ["--help"]
