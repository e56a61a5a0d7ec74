# Tributary engine image, built from the compiled package (npm run build -> dist/), the way a
# user's project installs it. `docker compose up` (docker-compose.yml) runs it next to Kafka,
# ClickHouse and Redis; .dockerignore keeps node_modules/ and local data out of the context.

# 1. Build: every dependency (the TypeScript compiler, esbuild for the dashboard), then dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /src
# onnxruntime-node's postinstall would download CUDA libraries; the CPU provider needs none.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# No install scripts: `prepare` would build the dashboard before its sources are copied (the
# build below does it), and chDB's and onnxruntime's need nothing here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build-dashboard.ts ./scripts/build-dashboard.ts
RUN npm run build

# 2. Run: production dependencies only, the compiled dist/, the example topologies and schemas.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    PORT=8080
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY models ./models
COPY schemas ./schemas
COPY topologies ./topologies
COPY templates ./templates
RUN chown -R node:node /app
USER node
EXPOSE 8080
# bin/tributary.js runs the compiled CLI (there is no src/ here) and loads the .ts topology with
# tsx; the topology imports 'tributary', which resolves to this package's own dist/.
CMD ["node", "bin/tributary.js", "run", "topologies/card-fraud.ts"]
