#!/usr/bin/env bash
# Installs the Debian packages the portal and its tests use, when missing.
# Runtime: poppler-utils, qpdf, ghostscript, redis-server (for `exchange up`).
# Tests: chromium (browser tests), npm (installs axe-core for the accessibility
# test), exiftool, tesseract, age (independent checks),
# LibreOffice (an independent PDF producer for the corpus). OCR: tesseract with
# English and Simplified Chinese data; Noto CJK fonts render Chinese pages.
set -euo pipefail
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check pdftotext poppler-utils
check qpdf qpdf
check gs ghostscript
check exiftool libimage-exiftool-perl
check tesseract tesseract-ocr
check chromium chromium
check npm npm
check age age
check redis-server redis-server
check soffice libreoffice-writer-nogui
[ -e /usr/lib/libreoffice/program/libsdlo.so ] || need+=(libreoffice-impress-nogui)
[ -e /usr/lib/libreoffice/program/libsclo.so ] || need+=(libreoffice-calc-nogui)
check psql postgresql-client
check ffmpeg ffmpeg
check ffprobe ffmpeg
[ -e /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ] || need+=(tesseract-ocr-eng)
[ -e /usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata ] || need+=(tesseract-ocr-chi-sim)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -d /usr/share/fonts/type1/urw-base35 ] || need+=(fonts-urw-base35)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
