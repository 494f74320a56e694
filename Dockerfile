# syntax=docker/dockerfile:1
# Multi-stage build: compile with the dev toolchain, ship only the compiled output and production deps.

FROM node:20-slim AS build
WORKDIR /app
# sqlite3 compiles its native addon during `npm ci`.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json vite.sdk.config.mts ./
COPY scripts/sdk-size.js scripts/bundle-gateway.js scripts/gateway-main.js ./scripts/
COPY apps ./apps
COPY libs ./libs
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown 1000:1000 /data
# Numeric (the image's `node` user), so Kubernetes' runAsNonRoot can verify it. The root filesystem may
# be read-only: the gateway writes only to DATA_DIR and /tmp.
USER 1000:1000
VOLUME ["/data"]
# 8080: WebSocket, admin API and probes; 9090: /metrics when METRICS_PORT=9090 (keep it off the edge).
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The same entry point the test suite runs (test/support/gateway-process.ts).
CMD ["node", "dist/gateway/main.js"]
