"""Validates a speedscope file against speedscope.schema.json, then checks what
a schema cannot say: frame indices in range, one weight per sample, endValue
the sum of the weights. Prints OK or the problem; exit status 0 or 1.

usage: check-speedscope.py SCHEMA FILE
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
document = json.load(open(sys.argv[2]))
try:
    jsonschema.validate(document, schema)
except jsonschema.ValidationError as error:
    print("schema:", error.message)
    sys.exit(1)
frames = len(document["shared"]["frames"])
for profile in document["profiles"]:
    if profile["type"] != "sampled":
        continue
    if len(profile["samples"]) != len(profile["weights"]):
        print("profile %r: %d samples, %d weights" % (profile["name"], len(profile["samples"]), len(profile["weights"])))
        sys.exit(1)
    for stack in profile["samples"]:
        if not stack or max(stack) >= frames:
            print("profile %r: stack %r refers past %d frames" % (profile["name"], stack, frames))
            sys.exit(1)
    if profile["endValue"] - profile["startValue"] != sum(profile["weights"]):
        print("profile %r: endValue is not the sum of the weights" % profile["name"])
        sys.exit(1)
print("OK")
