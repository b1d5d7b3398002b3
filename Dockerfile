# Pynomaly engine and dashboard image.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/numba
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pynomaly ./pynomaly
COPY flows ./flows
RUN pip install --no-cache-dir . && useradd -r -u 10001 pynomaly && mkdir -p /data && chown pynomaly /data
USER pynomaly
EXPOSE 8000 8765
ENTRYPOINT ["pynomaly"]
CMD ["run", "flows/kafka_metrics.yaml"]
