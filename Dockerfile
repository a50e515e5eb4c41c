# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with dev dependencies, ship production ones only.
# Not exercised by CI (no Docker engine on the CI machines); see README "Docker".

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
RUN mkdir -p /app/logs /data && chown node:node /app/logs /data
USER node
EXPOSE 4443
ENTRYPOINT ["node", "bin/farol.js"]
CMD ["--help"]
