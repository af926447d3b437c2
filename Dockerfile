# One image for every Journey service: `journey api` (default), `journey worker`,
# `journey ingest` and the one-shot `journey db upgrade`. docker-compose.yml picks the command;
# all configuration comes from JOURNEY_* environment variables (journey/core/config.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user owns only the data directory; the installed code stays read-only to it.
RUN groupadd --system --gid 10001 journey \
    && useradd --system --uid 10001 --gid journey --home-dir /home/journey --create-home journey \
    && mkdir -p /var/lib/journey \
    && chown journey:journey /var/lib/journey

# Install the project (not editable): the source tree is only needed at build time.
# .dockerignore keeps virtualenvs, local state and tests out of the build context.
WORKDIR /src
COPY . .
RUN pip install . \
    && mkdir -p /app \
    && cp -r examples /app/examples \
    && cd / \
    && rm -rf /src

WORKDIR /app
ENV JOURNEY_DATA_DIR=/var/lib/journey \
    JOURNEY_EXAMPLES_DIR=/app/examples \
    JOURNEY_API_HOST=0.0.0.0 \
    JOURNEY_API_PORT=8000

USER journey
EXPOSE 8000
CMD ["journey", "api"]
