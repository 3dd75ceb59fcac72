# SmartLic search service: `docker build -t smartlic-search .` then run with PORT set.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY backend ./backend
COPY gunicorn.conf.py start.sh ./
RUN useradd --create-home --uid 10001 smartlic && mkdir -p var && chown smartlic var
USER smartlic

EXPOSE 8000
CMD ["./start.sh", "web"]
