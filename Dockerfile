# syntax=docker/dockerfile:1
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev
# one start and stop on the demo config writes dist/bridge.cjs.cache, with the Node and the flags of the ENTRYPOINT
# below (the cache is keyed by both; a mismatch is ignored, never run): the runtime image cannot write dist/
COPY config ./config
COPY devices ./devices
RUN sh scripts/warm-code-cache.sh node --heap-growing-percent=60

FROM node:22-bookworm-slim
# tini as PID 1 passes SIGTERM/SIGINT on to node and reaps zombies. Node as PID 1 gets no default signal
# actions from the kernel: until the bridge installs its handlers (config loading) a SIGTERM would be ignored.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY devices ./devices
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
EXPOSE 1883 8080
VOLUME ["/app/config", "/app/devices", "/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "require('net').connect(process.env.SMS_BRIDGE_CONFIG_MQTT_PORT||1883,'127.0.0.1').on('connect',function(){process.exit(0)}).on('error',function(){process.exit(1)})"
# SIGTERM stops the bridge within shutdown_timeout (default 10s): give `docker stop` more than that (-t 15)
STOPSIGNAL SIGTERM
# the launcher runs dist/bridge.cjs, the bundle `npm run build` writes, from the code cache the build stage wrote
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--heap-growing-percent=60", "dist/launch.js"]
CMD ["start", "--config", "config/bridge.yaml"]
