# syntax=docker/dockerfile:1
#
# Syndicator container image.
#
#   docker build -t syndicator .
#   docker run -d --name syndicator -p 8080:8080 -v syndicator-var:/app/var \
#       -e SYNDICATOR_SITE__BASE_URL=https://feeds.example.com syndicator
#
# Configuration: the image ships config/syndicator.toml (the default config,
# reading the sample records in seeds/). Mount your own file over
# /app/config/syndicator.toml, or mount it elsewhere and set SYNDICATOR_CONFIG,
# and override single keys with SYNDICATOR_<SECTION>__<KEY> variables
# (e.g. SYNDICATOR_DATABASE__URL, SYNDICATOR_SOURCE__PATH). State (the SQLite
# database and the static feed files) lives in the /app/var volume.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: wheels of the project and of every dependency it declares --------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Only the files the package is built from, so edits elsewhere keep this layer cached.
COPY pyproject.toml README.md ./
COPY syndicator/ syndicator/
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip wheel --wheel-dir /wheels .

# --- runtime: the wheels installed offline, run as an unprivileged user ------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="syndicator" \
      org.opencontainers.image.description="Feed syndication daemon: RSS, Atom and JSON Feed per topic, signed webhooks" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SYNDICATOR_SERVER__HOST=0.0.0.0

RUN groupadd --system --gid 10001 syndicator \
 && useradd --system --uid 10001 --gid syndicator --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin syndicator

# The wheels are bind-mounted from the build stage, so they never land in a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*

WORKDIR /app
# Config and seeds stay root-owned: the daemon reads them and never writes them.
COPY config/ config/
COPY seeds/ seeds/
RUN mkdir -p /app/var && chown syndicator:syndicator /app/var
VOLUME ["/app/var"]

EXPOSE 8080

# No curl in slim images: probe /healthz with the standard library. The port
# follows SYNDICATOR_SERVER__PORT when that override is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('SYNDICATOR_SERVER__PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

USER syndicator
STOPSIGNAL SIGTERM
CMD ["syndicator", "run"]
