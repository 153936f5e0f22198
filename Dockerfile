# syntax=docker/dockerfile:1
# Runs `order-service serve` (or `worker`, `migrate`) against ORDER_SERVICE_DATABASE_URL.

FROM python:3.12-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install .

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY migrations ./migrations
COPY alembic.ini ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ORDER_SERVICE_ENV=production \
    ORDER_SERVICE_MIGRATIONS_DIR=/app/migrations
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
ENTRYPOINT ["order-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
