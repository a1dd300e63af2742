# The linkyard app process: `docker compose up` runs three of these behind nginx (docker-compose.yml).
# No `syntax` parser directive: with one, BuildKit first pulls that frontend image from a registry,
# which an air-gapped build cannot reach and a mirrored one must mirror too (and `:1` floats). The
# builder's own Dockerfile frontend reads everything here.
# One stage installs the production dependencies, one compiles app/src to app/dist (`npm run
# build`: plain JavaScript spares each V8 isolate Node's type stripper; the figures:
# docs/decisions/0008-compiled-javascript-in-production.md), and the last is what runs: those
# dependencies and that build, no compiler.

# Node 24 LTS on Debian slim (glibc). better-sqlite3 ships its prebuilt binaries inside its npm
# package (glibc and musl alike), and no dependency has an install script: `npm ci` needs no
# compiler, no Python, and no download besides the registry's tarballs.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs one, and a dependency's script then cannot run at build time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# npm's scripts run through the wrapper that picks a recent enough Node (here the image's own).
COPY scripts/with-node.sh ./scripts/
COPY app/src ./app/src
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production
# Read by glibc at start-up only: APP_MALLOC_ENV (stack/src/app-process.ts) says why.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
# Owned by root and read-only for the `node` user that runs the app: a compromised process cannot
# rewrite its own code or dependencies.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/app/dist ./app/dist
COPY app/static ./app/static
# SQLite's file lives in ./data (DATA_DIR's default) when the image runs alone, without DATABASE_URL;
# the one folder the app may write.
RUN mkdir data && chown node:node data

USER node
EXPOSE 8000

# Ready, not merely alive: store reachable, check pool up, not draining (503 during a graceful stop).
# Slim images have no curl or wget; Node's own fetch does the request. A short interval because
# `depends_on: service_healthy` and `docker compose up --wait` wait for the first healthy answer.
# Each check starts a node process: on a starved machine (2 cores at load 30) that alone took over
# 3 s, and one `unhealthy` makes `up --wait` fail at once. A generous timeout and start period cost
# nothing when checks pass: the first success counts at once.
HEALTHCHECK --interval=5s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/readyz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node receives SIGTERM itself (a shell in between would not pass it on) and drains.
# Not `npm start`: npm does not forward signals reliably and adds a process for nothing.
# Under chrt's SCHED_BATCH, then node with its V8 flags: APP_SCHEDULING and APP_NODE_FLAGS
# (stack/src/app-process.ts), which say why. chrt execs node, so node is still PID 1's command.
CMD ["chrt", "--batch", "0", "node", "--max-semi-space-size=4", "--max-old-space-size=128", "--no-allocation-site-pretenuring", "--no-maglev", "--no-wasm-loop-unrolling", "--no-parallel-scavenge", "app/dist/server.js"]
