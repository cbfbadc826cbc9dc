# mj-worker image: one image for the worker, beat and the webhook receiver (see docker-compose.yml).
# Redis runs as its own service: only the `flower` extra is installed (Flower runs on the app's
# configuration, so it follows a Sentinel master too); the image carries no redis-server.
FROM python:3.12.8-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the package needs: no tests, no .venv, no .env with keys in the image.
COPY pyproject.toml README.md ./
COPY config ./config
COPY worker ./worker
COPY tasks ./tasks
# The folders named volumes mount on (beat's schedule state, MJ_DOWNLOAD_DIR) belong to the
# user the processes run as, so a new volume starts writable.
RUN pip install ".[flower]" \
    && useradd --create-home --uid 10001 mj \
    && mkdir -p /var/lib/mj-beat /data/downloads /etc/mj-worker/schedules \
    && chown mj:mj /var/lib/mj-beat /data/downloads
USER mj

EXPOSE 8000
CMD ["celery", "-A", "worker", "worker", "--loglevel=INFO"]
