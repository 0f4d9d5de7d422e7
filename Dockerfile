# syntax=docker/dockerfile:1
# Jokster's images, built with the Makefile's own steps:
#
#   web      Node: `make web` (npm ci && npm run build in web/ → web/dist)
#   build    Go: `make build` (go build -o bin/jokster ./cmd/jokster), static, web/dist embedded
#   nginx    nginx with Jokster's config templates (nginx/) and the web app's hashed assets
#   runtime  the jokster binary on Debian slim with ffmpeg (videos) and postgresql-client
#            (jokster backup/restore), as the non-root user jokster (uid 10001); the default
#
# docker compose builds runtime (api, worker) and nginx. No secret goes into an image:
# settings come from deploy/*.env at run time (README, "Deploy"; docs/operating.md).

ARG GO_VERSION=1.26
ARG NODE_VERSION=22
# Debian release of every stage. Its postgresql-client must not be older than
# the PostgreSQL server (bookworm: 15, the postgres image in docker-compose.yaml).
ARG DEBIAN=bookworm
# >= 1.27.3: upstream servers re-resolved at run time (NGINX_RESOLVER).
ARG NGINX_VERSION=1.28

# ---------------------------------------------------------------- web UI
FROM node:${NODE_VERSION}-${DEBIAN}-slim AS web
RUN apt-get update \
	&& apt-get install -y --no-install-recommends make \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY scripts/services.sh scripts/
COPY web/ web/
RUN --mount=type=cache,target=/root/.npm make web

# ---------------------------------------------------------------- Go binary
FROM golang:${GO_VERSION}-${DEBIAN} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
COPY --from=web /src/web/dist/ web/dist/
# A static binary with no build paths in it.
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build make build

# ---------------------------------------------------------------- nginx
FROM nginx:${NGINX_VERSION}-alpine AS nginx
# openssl: render.sh hashes OPS_PASSWORD into the htpasswd of /monitor/.
RUN apk add --no-cache openssl
COPY nginx/ /etc/jokster-nginx/
COPY --from=web /src/web/dist/ /srv/jokster/web/
ENV JOKSTER_WEB_ROOT=/srv/jokster/web
# The configuration is rendered at start from the environment (deploy/nginx.env).
CMD ["/bin/sh", "-c", "sh /etc/jokster-nginx/render.sh /tmp/nginx && exec nginx -p /tmp/nginx -c /tmp/nginx/nginx.conf -e stderr -g 'daemon off;'"]

# ---------------------------------------------------------------- runtime
FROM debian:${DEBIAN}-slim AS runtime
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl ffmpeg postgresql-client tzdata \
	&& rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 jokster \
	&& useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/jokster --shell /usr/sbin/nologin jokster \
	&& mkdir -p /var/lib/jokster/media /backups \
	&& chown -R 10001:10001 /var/lib/jokster /backups
COPY --from=build /src/bin/jokster /usr/local/bin/jokster
# Only paths and listeners here: every other setting has a default in the
# binary or comes from the environment at run time.
ENV ADDR=:8080 MEDIA_ROOT=/var/lib/jokster/media
WORKDIR /var/lib/jokster
VOLUME ["/var/lib/jokster/media"]
USER 10001:10001
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["jokster"]
CMD ["serve"]
