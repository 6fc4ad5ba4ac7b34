#!/usr/bin/env python3
"""Prints criterion's medians for the ingress path as one table, with the ratio to a bare
serde_json parse of the same bytes and the targets (3 us, 3x)."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
TARGET_NS, TARGET_RATIO = 3000.0, 3.0


def median_ns(group: pathlib.Path, name: str):
    f = group / name / "new" / "estimates.json"
    if not f.exists():
        return None
    return json.loads(f.read_text())["median"]["point_estimate"]


rows, ok = [], True
for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    bare = median_ns(group, "bare-parse")
    accept = median_ns(group, "accept")
    envelope = median_ns(group, "accept+envelope")
    if None in (bare, accept, envelope):
        continue
    ratio = envelope / bare
    passed = envelope <= TARGET_NS and ratio <= TARGET_RATIO
    ok &= passed
    rows.append((group.name, bare, accept, envelope, ratio, "yes" if passed else "NO"))

if not rows:
    sys.exit(f"no criterion results under {root}: run `make bench`")

# Before authentication, work must be linear in the body: 8,000 short keys against one string
# of the same size, both with a wrong key.
hostile = root / "wrong-key-8000-keys"
many, one = median_ns(hostile, "many-keys"), median_ns(hostile, "one-string")
HOSTILE_RATIO = 3.0
head = ("callback", "bare parse ns", "accept ns", "accept+envelope ns", "ratio", "on target")
widths = [max(len(str(h)), 12) for h in head]
widths[0] = max(len(r[0]) for r in rows)
print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
print("-|-".join("-" * w for w in widths))
for name, bare, accept, envelope, ratio, passed in rows:
    cells = (name, f"{bare:.0f}", f"{accept:.0f}", f"{envelope:.0f}", f"{ratio:.2f}x", passed)
    print(" | ".join(c.ljust(w) for c, w in zip(cells, widths)))
print(f"\ntargets: accept+envelope <= {TARGET_NS/1000:.0f} us and <= {TARGET_RATIO:.0f}x the bare parse")
if many is not None and one is not None:
    ratio = many / one
    ok &= ratio <= HOSTILE_RATIO
    print(f"\nwrong key, 58 KB body: 8,000 keys {many / 1000:.0f} us, one string {one / 1000:.0f} us, "
          f"{ratio:.2f}x (target <= {HOSTILE_RATIO:.0f}x): {'yes' if ratio <= HOSTILE_RATIO else 'NO'}")
sys.exit(0 if ok else 1)
