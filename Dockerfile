# The ioc-monitor image: every `ioc` command (topics, worker, dashboard, ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ioc ./ioc
COPY detectors ./detectors
COPY streams ./streams
COPY dashboards ./dashboards
COPY archive ./archive
COPY ingest ./ingest
COPY notify ./notify
RUN pip install . \
    && useradd --create-home --uid 10001 ioc \
    && mkdir -p /data \
    && chown ioc:ioc /data

USER ioc
ENV IOC_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 6066 8080
CMD ["ioc", "--help"]
