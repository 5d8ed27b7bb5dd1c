#!/usr/bin/env python3
"""Prints the RAM sections of an ELF from `readelf -S -W` on standard input."""
import re
import sys

for line in sys.stdin:
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m and re.match(r"\.(data|bss|stack|dram2_uninit|rwtext)", m.group(1)):
        print(f"  {m.group(1):<14} {int(m.group(2), 16):>7} bytes")
