#!/usr/bin/env bash
# Installs the command-line tools the evidence tests run, pinned, into .tools/ (gitignored):
#   allure-commandline  the Allure CLI (`allure generate`; runs on Java 8+)
#   xunit-viewer        a JUnit XML consumer CI pipelines use to publish results
# Idempotent: does nothing when the pinned versions are already there.
# Needs npm (Node.js): as root on Debian/Ubuntu it installs Debian's npm when none is on
# PATH; otherwise it says how to get it.
set -euo pipefail

cd "$(dirname "$0")/.."
tools=.tools
pinned=(allure-commandline@2.46.1 xunit-viewer@10.6.1)

installed_version() {
  local manifest="$tools/node_modules/$1/package.json"
  [[ -f $manifest ]] && sed -n 's/^  "version": "\(.*\)",$/\1/p' "$manifest" | head -1
}

stale=()
for spec in "${pinned[@]}"; do
  [[ "$(installed_version "${spec%@*}")" == "${spec##*@}" ]] || stale+=("$spec")
done

if ((${#stale[@]} == 0)); then
  echo "tools: ${pinned[*]} present in $tools/"
  exit 0
fi

if ! command -v npm >/dev/null; then
  # Only when npm is missing: a Node.js from NodeSource ships its own npm, and Debian's
  # npm package would conflict with it.
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "tools: npm is not on PATH; installing Debian's npm"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
  else
    echo "tools missing: ${stale[*]}; they install with npm, which is not on PATH" >&2
    echo "install Node.js with npm (sudo apt-get install npm), then run: make tools" >&2
    exit 1
  fi
fi

echo "tools: installing ${stale[*]} into $tools/"
mkdir -p "$tools"
# Every pinned package in one call: npm prunes what a call does not name.
npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "${pinned[@]}"
for spec in "${pinned[@]}"; do
  if [[ "$(installed_version "${spec%@*}")" != "${spec##*@}" ]]; then
    echo "expected ${spec} in $tools/node_modules after npm install, saw" \
      "'$(installed_version "${spec%@*}")'; rerun with --loglevel=info to see why" >&2
    exit 1
  fi
done
