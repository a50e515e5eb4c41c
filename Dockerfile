# Multi-stage build: compile TypeScript with dev dependencies, ship production ones only.
# CI builds and runs this image with docker-compose.yml (scripts/container-check.sh, under podman with
# stand-in base images; see README "Docker").

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ls` fails the build if npm ci left dependencies out: npm ci has been seen to exit 0 after a
# TLS failure to the registry, which otherwise only shows when the image runs.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm ls --depth=0 >/dev/null
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm ls --omit=dev --depth=0 >/dev/null \
 && npm cache clean --force
# The application files stay owned by root: the node user can run them, not change them.
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
RUN mkdir -p /app/logs && chown node:node /app/logs
USER node
EXPOSE 4443
ENTRYPOINT ["node", "bin/farol.js"]
CMD ["--help"]
