# cvm-attest serve (the remote verifier) as a container: built from this repository with the same
# bundled build as the extension (dist/bundle: every dependency bundled, so the runtime image holds no
# node_modules). Run: docs/serve.md.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/cvm-attest
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=build /src/extension ./extension
COPY --from=build /src/docker/entrypoint.sh ./docker/entrypoint.sh
USER node
EXPOSE 8443
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/cvm-attest/docker/entrypoint.sh"]
