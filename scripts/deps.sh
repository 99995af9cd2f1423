#!/usr/bin/env bash
# Installs what building HMS-ACH needs on Debian (run as root; a no-op when present).
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# SAML signatures are checked by xmlsec (through samael), which binds libxml2,
# xmlsec1 and OpenSSL with bindgen (libclang).
# poppler-utils (pdftoppm) lets the tests render report PDFs to images.
# cvc5 is the SMT solver that proves the HMS policy invariants.
for pkg in libxml2-dev libxmlsec1-dev libxmlsec1-openssl libssl-dev libclang-dev poppler-utils cvc5; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "missing ${need[*]}: install them (Debian: apt-get install ${need[*]})" >&2
        exit 1
    fi
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi
