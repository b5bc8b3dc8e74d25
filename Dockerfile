# natsrpc: one image for the supervisor and every worker. The entry point is the natsrpc CLI:
#   docker run natsrpc worker workers/math.ts --servers nats://nats:4222
# Stage 1 installs the production dependencies; stage 2 copies only what runs, and runs it as the
# unprivileged "node" user.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
RUN chmod 0755 bin/natsrpc.js && ln -s /app/bin/natsrpc.js /usr/local/bin/natsrpc
# Source and dependencies stay owned by root: the service user can read them, not change them.
USER node
ENTRYPOINT ["natsrpc"]
CMD ["--help"]
