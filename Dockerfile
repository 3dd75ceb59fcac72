# SmartLic search service. `docker build -t smartlic-search .`; runs `./start.sh web` by default,
# `./start.sh worker` for a separate job worker.

FROM node:20-slim AS page
WORKDIR /page
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 LOG_FORMAT=json
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY backend ./backend
COPY gunicorn.conf.py start.sh alembic.ini ./
COPY --from=page /page/dist ./frontend/dist
RUN useradd --create-home --uid 10001 smartlic && mkdir -p var && chown smartlic var
USER smartlic

EXPOSE 8000
CMD ["./start.sh", "web"]
