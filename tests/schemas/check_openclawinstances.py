#!/usr/bin/env python3
"""Validates every OpenClawInstance document of the given YAML files against
openclawinstance.schema.json (beside this script); other kinds are skipped.

Run: tests/schemas/check_openclawinstances.py FILE.yaml...
Exit 0: every instance valid (the count is printed); 1: the errors, with file, document and path;
2: no instance found. Needs the `jsonschema` and `yaml` modules (both come with PyPI
`kubernetes-validate`, which .ci/run installs).
"""
import json
import pathlib
import sys

import jsonschema
import yaml


def main(paths):
    schema = json.loads((pathlib.Path(__file__).parent / "openclawinstance.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    checked, errors = 0, []
    for path in paths:
        for n, doc in enumerate(yaml.safe_load_all(pathlib.Path(path).read_text())):
            if not isinstance(doc, dict) or doc.get("kind") != "OpenClawInstance":
                continue
            checked += 1
            for e in validator.iter_errors(doc):
                where = "/".join(str(p) for p in e.absolute_path) or "(document)"
                errors.append(f"{path}: document {n}: {where}: {e.message}")
    if errors:
        print("\n".join(errors))
        return 1
    if checked == 0:
        print("no OpenClawInstance found", file=sys.stderr)
        return 2
    print(f"{checked} OpenClawInstance(s) valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
