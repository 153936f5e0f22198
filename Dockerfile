# syntax=docker/dockerfile:1
# Runs `order-service serve` (or `worker`, `migrate`) against ORDER_SERVICE_DATABASE_URL.
# A worker serves its own metrics with `worker --metrics-host 0.0.0.0 --metrics-port 8100`.
# Python 3.11, as in CI: tests/test_packaging.py runs this build stage's install steps there.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The production set exactly as locked (`make lock`); its own layer, reused until the lock changes.
COPY requirements/pip.txt requirements/production.txt ./requirements/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r requirements/pip.txt \
 && /opt/venv/bin/pip install --require-hashes -r requirements/production.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY migrations ./migrations
COPY alembic.ini ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ORDER_SERVICE_ENV=production \
    ORDER_SERVICE_MIGRATIONS_DIR=/app/migrations
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"]
ENTRYPOINT ["order-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
