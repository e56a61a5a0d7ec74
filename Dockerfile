# Tributary engine image. `docker compose up` (docker-compose.yml) runs it next to Kafka,
# ClickHouse and Redis. A .dockerignore with node_modules/ and .services/ keeps the build
# context small; the final stage does not depend on it either way.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# onnxruntime-node's postinstall would download CUDA libraries; the CPU provider needs none.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    PORT=8080
COPY --chown=node:node . .
RUN rm -rf node_modules .services data bench-results test-artifacts && chown node:node /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
USER node
EXPOSE 8080
CMD ["npm", "start"]
