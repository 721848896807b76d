# DJS image: the console is built with Node, then copied into a slim Python runtime.
# Used by docker-compose.yml for the web, rpc and scheduler services (one image, three commands).

# --- stage 1: web console ----------------------------------------------------------------------
FROM node:20-bookworm-slim AS console
WORKDIR /src/web-ui
COPY web-ui/package.json web-ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web-ui/ ./
RUN npm run build

# --- stage 2: Python wheels (mysqlclient needs a compiler and the client headers) ----------------
FROM python:3.11-slim-bookworm AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential default-libmysqlclient-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt requirements-mysql.txt /tmp/
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /tmp/requirements.txt -r /tmp/requirements-mysql.txt

# --- stage 3: runtime --------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 mariadb-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin djs
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY manage.py ./
COPY djs_platform/ djs_platform/
COPY apps/ apps/
COPY rpc/ rpc/
COPY locale/ locale/
COPY configs/ configs/
COPY scripts/init-db/ scripts/init-db/
COPY --from=console /src/web-ui/dist/ web-ui/dist/
RUN mkdir -p var logs && chown -R djs:djs var logs
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=djs_platform.settings \
    DJS_SERVER_HOST=0.0.0.0 \
    DJS_RPC_HOST=0.0.0.0
USER djs
EXPOSE 9088 9090 9101 9102
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:9088/v1/health', timeout=2).status != 200)"
CMD ["python", "-m", "gunicorn", "-c", "configs/gunicorn.conf.py"]
