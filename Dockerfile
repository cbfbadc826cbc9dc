# mj-worker image: one image for the worker, beat and the webhook receiver (see docker-compose.yml).
FROM python:3.12-slim

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
RUN pip install . \
    && useradd --create-home --uid 10001 mj
USER mj

EXPOSE 8000
CMD ["celery", "-A", "worker", "worker", "--loglevel=INFO"]
