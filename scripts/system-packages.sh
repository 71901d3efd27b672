#!/usr/bin/env bash
# The Debian packages the platform needs beyond Python: CJK fonts embedded in the reports (and shown
# by the browser), Chromium for the real-browser test of the staff app, HarfBuzz's subsetter (WeasyPrint embeds a CJK font in ~0.2 s with it, ~10 s
# without), poppler's pdftotext/pdffonts for the report tests. Installed only when missing.
set -euo pipefail
PACKAGES=(fonts-noto-cjk fonts-arphic-uming fonts-wqy-zenhei libharfbuzz-subset0 poppler-utils chromium mariadb-server-core)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "缺少系统软件包(请以 root 安装):${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
