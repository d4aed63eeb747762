"""Checks deploy/compose.yaml against the Compose specification's JSON schema (as the
docker-compose package on PyPI ships it), and that it runs what the README says: two Frontdesk
replicas, PostgreSQL and a load balancer."""

import json
import sys
import zipfile

import jsonschema
import yaml

wheel, compose_file = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    schema = json.loads(archive.read("compose/config/compose_spec.json"))
with open(compose_file) as f:
    compose = yaml.safe_load(f)
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
for error in errors:
    print(f"{compose_file}: {'/'.join(map(str, error.path)) or '(top)'}: {error.message}")
services = compose.get("services", {})
if services.get("frontdesk", {}).get("deploy", {}).get("replicas", 1) < 2:
    errors.append("frontdesk runs fewer than two replicas")
    print(f"{compose_file}: services/frontdesk: fewer than two replicas")
for needed in ("postgres", "lb"):
    if needed not in services:
        errors.append(needed)
        print(f"{compose_file}: services: no {needed}")
if errors:
    sys.exit(1)
print(f"{compose_file}: valid ({len(services)} services)")
