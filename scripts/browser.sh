#!/usr/bin/env bash
# Installs Chromium and ChromeDriver for the console's browser tests (Debian,
# as root; a no-op when present) and prints ChromeDriver's path.
set -euo pipefail

if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium chromium-driver" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "the console tests need Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
fi
command -v chromedriver
