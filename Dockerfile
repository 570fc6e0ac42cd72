# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
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
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["start", "--config", "config/bridge.yaml"]
