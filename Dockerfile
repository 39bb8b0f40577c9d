# Bulwark in a container (OPS-2): built in one stage, run in another as the unprivileged `node` user,
# with a read-only root filesystem and the data directory as the only writable place:
#
#   docker build -t bulwark .
#   docker run --read-only --tmpfs /tmp -v bulwark-data:/data -p 3000:3000 \
#     -e PUBLIC_URL=https://auth.example.org -e SECURITY_CONTACT=mailto:security@example.org \
#     -e BULWARK_SECRET_FILE=/run/secrets/bulwark -e DATA_KEYS_FILE=/run/secrets/data-keys bulwark
#
# The API and the background work as separate containers of the same image: `start --no-worker` for the
# one, `worker` for the other, both with the same PostgreSQL DATABASE_URL (separate /data volumes would
# be separate SQLite databases: nothing would be delivered).

FROM node:24-bookworm-slim AS build
WORKDIR /app
# The build toolchain for native modules whose prebuilt binary is missing for this platform.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
COPY examples ./examples
COPY scripts ./scripts
# `npm ci` builds (the prepare script); then the development dependencies go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# pg_dump and pg_restore for backups on PostgreSQL (DATA-2): Debian's client is 15; pg_dump refuses a
# newer server, so for PostgreSQL 16 or later install that major's client from apt.postgresql.org here.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    BULWARK_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Owned by root and not writable by the server: a compromised process cannot change its own code.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
# No HEALTHCHECK: a `worker` container listens on no port. The orchestrator probes the API's
# /health/live (liveness) and /health (readiness) on PORT.
# Exec form: node is PID 1 and receives `docker stop`'s SIGTERM itself (the graceful drain, OPS-3).
ENTRYPOINT ["node", "dist/src/cli/index.js"]
CMD ["start"]
