#!/usr/bin/env python3
"""Writes a bench's output into BENCHMARKS.md between `<!-- MARKER:begin -->` and
`<!-- MARKER:end -->` (a new section HEADING at the end if the markers are not there yet).

Usage: benches/into-benchmarks.py OUTPUT MARKER HEADING COMMAND SECONDS
"""
import re
import sys

output, marker, heading, command, took = sys.argv[1:6]
table = open(output).read()
begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
block = f"{begin}\n`{command}` ({took} s on this machine):\n\n```\n" + table.rstrip() + "\n```\n" + end
text = open("BENCHMARKS.md").read()
if begin in text and end in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + f"\n\n## {heading}\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
print("BENCHMARKS.md updated")
