# One image for the web server, the workers and one-shot admin commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    EXCHANGE_INSTANCE=/data
RUN apt-get update \
 && apt-get install -y --no-install-recommends poppler-utils qpdf ghostscript fonts-dejavu-core \
    tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exchange ./exchange
COPY workers ./workers
RUN pip install .
RUN useradd --system --uid 10001 --home-dir /data exchange && mkdir -p /data && chown exchange /data
USER exchange
EXPOSE 8000
CMD ["waitress-serve", "--host=0.0.0.0", "--port=8000", "--threads=8", "--call", "exchange:create_app"]
