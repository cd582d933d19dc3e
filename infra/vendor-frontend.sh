#!/usr/bin/env bash
# Vendor the web front end into guardian/web/static/vendor/ (make vendor).
#
# Fetches pinned versions of nhsuk-frontend, htmx.org and swagger-ui-dist from the npm
# registry into a temporary directory, compiles the NHS.UK CSS from its Sass sources WITHOUT
# the external Frutiger web fonts (they would be a request to another host and
# a CSP violation), and copies what the pages use. The result is checked in with a VERSIONS
# file; nothing is fetched at run time. Needs node and npm (Debian: apt-get install npm).
#
# axe-core (the accessibility checker the browser tests inject with add_script_tag) goes
# to tests/browser/vendor/axe-core/, never under static/: no page served to users has it.
set -euo pipefail

NHSUK_VERSION=10.6.1
HTMX_VERSION=2.0.11      # the 2.x line: 4.x is a rewrite with changed events and inheritance
SWAGGER_UI_VERSION=5.35.0
SASS_VERSION=1.108.2
AXE_CORE_VERSION=4.14.1  # tests only (tests/browser/vendor/)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/guardian/web/static/vendor"
TESTS_OUT="$ROOT/tests/browser/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

command -v npm >/dev/null || { echo "vendor: npm is needed (apt-get install npm)" >&2; exit 1; }

cd "$TMP"
cat > package.json <<EOF
{"name": "guardian-vendor", "private": true, "version": "0.0.0"}
EOF
npm install --silent --no-audit --no-fund --ignore-scripts --no-package-lock \
  "nhsuk-frontend@$NHSUK_VERSION" "htmx.org@$HTMX_VERSION" \
  "swagger-ui-dist@$SWAGGER_UI_VERSION" "sass@$SASS_VERSION" "axe-core@$AXE_CORE_VERSION"

NHSUK="$TMP/node_modules/nhsuk-frontend"
# Font faces off; asset URLs relative to the stylesheet, so they resolve under /static/.
cat > nhsuk.scss <<'EOF'
@use "nhsuk-frontend/dist/nhsuk/index" with (
  $nhsuk-include-default-font-face: false,
  $nhsuk-fonts-path: "",
  $nhsuk-assets-path: "assets/"
);
EOF
npx --no-install sass --no-source-map --style=compressed --quiet-deps --silence-deprecation=import \
  --load-path=node_modules nhsuk.scss nhsuk-frontend.min.css

if grep -Eq '@font-face|url\((["'"'"'])?(https?:)?//' nhsuk-frontend.min.css; then
  echo "vendor: the compiled CSS still refers to web fonts or another host" >&2
  exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT/nhsuk/assets/images" "$OUT/htmx" "$OUT/swagger-ui"
cp nhsuk-frontend.min.css "$OUT/nhsuk/"
cp "$NHSUK/dist/nhsuk/nhsuk-frontend.min.js" "$OUT/nhsuk/"
sed -i 's|/[/*][#@] sourceMappingURL=[^ *]*\( \{0,1\}\*/\)\{0,1\}||' "$OUT/nhsuk/nhsuk-frontend.min.js"
cp "$NHSUK"/dist/nhsuk/assets/images/*.svg "$NHSUK/dist/nhsuk/assets/images/favicon.ico" \
   "$NHSUK/dist/nhsuk/assets/images/nhsuk-icon-180.png" "$OUT/nhsuk/assets/images/"
# The package ships no LICENSE file; its package.json declares MIT.
node -e 'const p=require(process.argv[1]); console.log(`${p.name} ${p.version}: ${p.license} licence (package.json). ${p.homepage}`)' \
  "$NHSUK/package.json" > "$OUT/nhsuk/LICENSE.txt"

HTMX="$TMP/node_modules/htmx.org"
cp "$HTMX/dist/htmx.min.js" "$OUT/htmx/"
cp "$HTMX/LICENSE"* "$OUT/htmx/LICENSE.txt"

SWAGGER="$TMP/node_modules/swagger-ui-dist"
cp "$SWAGGER/swagger-ui-bundle.js" "$SWAGGER/swagger-ui.css" "$OUT/swagger-ui/"
sed -i 's|/[/*][#@] sourceMappingURL=[^ *]*\( \{0,1\}\*/\)\{0,1\}||' "$OUT/swagger-ui/swagger-ui-bundle.js" "$OUT/swagger-ui/swagger-ui.css"
cp "$SWAGGER/LICENSE"* "$OUT/swagger-ui/LICENSE.txt"

{
  echo "# Vendored by infra/vendor-frontend.sh (make vendor) from the npm registry. Do not edit."
  echo "# package version integrity"
  for spec in "nhsuk-frontend@$NHSUK_VERSION" "htmx.org@$HTMX_VERSION" \
              "swagger-ui-dist@$SWAGGER_UI_VERSION" "sass@$SASS_VERSION"; do
    echo "package ${spec%@*} ${spec##*@} $(npm view "$spec" dist.integrity 2>/dev/null)"
  done
  echo "# file sha256 (paths relative to this directory)"
  (cd "$OUT" && find . -type f ! -name VERSIONS | sort | sed 's|^\./||' | while read -r f; do
    echo "file $f $(sha256sum "$f" | cut -d' ' -f1)"
  done)
} > "$OUT/VERSIONS"

AXE="$TMP/node_modules/axe-core"
rm -rf "$TESTS_OUT/axe-core"
mkdir -p "$TESTS_OUT/axe-core"
cp "$AXE/axe.min.js" "$TESTS_OUT/axe-core/"
cp "$AXE/LICENSE" "$TESTS_OUT/axe-core/LICENSE.txt"
{
  echo "# Vendored by infra/vendor-frontend.sh (make vendor) from the npm registry. Do not edit."
  echo "# For the browser tests only: injected by the tests, never served to users."
  echo "package axe-core $AXE_CORE_VERSION $(npm view "axe-core@$AXE_CORE_VERSION" dist.integrity 2>/dev/null)"
  (cd "$TESTS_OUT" && find . -type f ! -name VERSIONS | sort | sed 's|^\./||' | while read -r f; do
    echo "file $f $(sha256sum "$f" | cut -d' ' -f1)"
  done)
} > "$TESTS_OUT/VERSIONS"

echo "vendored into ${OUT#"$ROOT"/} and ${TESTS_OUT#"$ROOT"/}:"
cat "$OUT/VERSIONS" "$TESTS_OUT/VERSIONS"
