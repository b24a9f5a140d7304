# One image for the web server, the workers and one-shot admin commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    EXCHANGE_INSTANCE=/data
RUN apt-get update \
 && apt-get install -y --no-install-recommends poppler-utils qpdf ghostscript fonts-dejavu-core \
    tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim fonts-noto-cjk ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exchange ./exchange
COPY workers ./workers
RUN pip install .
RUN useradd --system --uid 10001 --home-dir /data exchange && mkdir -p /data && chown exchange /data
USER exchange
EXPOSE 8000
# gunicorn streams request bodies to the app (waitress spools them to plaintext temp files).
CMD ["gunicorn", "--bind=0.0.0.0:8000", "--worker-class=gthread", "--workers=1", "--threads=8", \
     "--timeout=120", "--worker-tmp-dir=/dev/shm", "--error-logfile=-", "exchange:create_app()"]
