#!/usr/bin/env python3
"""Every bootstrap `sam build` produced runs on Lambda's provided.al2023: it needs no glibc
symbol version newer than the 2.34 Amazon Linux 2023 ships.

  check_glibc.py [BUILD_DIR ...]    default .aws-sam/build

A bootstrap linked against newer symbols fails at start in AWS ("version `GLIBC_2.3x' not
found") while every local run, on this machine's newer glibc, passes: a change of cargo-lambda's
linker or of the build machine is enough. The versions are read from each ELF's version needs
(.gnu.version_r), for x86_64 and aarch64 alike, without binutils.
"""
import pathlib
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Amazon Linux 2023's glibc, which provided.al2023 runs on.
MAX_GLIBC = (2, 34)
SHT_GNU_VERNEED = 0x6FFFFFFE


def needed_versions(path: pathlib.Path) -> dict[str, set[str]]:
    """Each shared library the ELF file needs, with the symbol versions it needs of it."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError(f"{path} is not a 64-bit ELF file")
    order = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(order + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
    sections = [struct.unpack_from(order + "IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    needs: dict[str, set[str]] = {}
    for _name, kind, _flags, _addr, offset, _size, link, info, _align, _entsize in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][4]

        def text(at: int) -> str:
            end = data.index(b"\0", strings + at)
            return data[strings + at:end].decode()

        entry = offset
        for _ in range(info):
            _version, count, file, aux, following = struct.unpack_from(order + "HHIII", data, entry)
            names = needs.setdefault(text(file), set())
            at = entry + aux
            for _ in range(count):
                _hash, _flags, _other, name, next_aux = struct.unpack_from(order + "IHHII", data, at)
                names.add(text(name))
                at += next_aux
            entry += following
    return needs


def glibc_version(name: str) -> tuple[int, ...] | None:
    if not name.startswith("GLIBC_") or not name[6:].replace(".", "").isdigit():
        return None
    return tuple(int(part) for part in name[6:].split("."))


def newest_glibc(path: pathlib.Path) -> tuple[int, ...]:
    versions = [glibc_version(n) for names in needed_versions(path).values() for n in names]
    return max((v for v in versions if v), default=(0,))


def main() -> int:
    dirs = [pathlib.Path(a) for a in sys.argv[1:]] or [ROOT / ".aws-sam" / "build"]
    bootstraps = sorted(b for d in dirs for b in d.glob("*/bootstrap"))
    if not bootstraps:
        print(f"no bootstrap under {', '.join(map(str, dirs))}: run sam build first")
        return 1
    failed = 0
    for bootstrap in bootstraps:
        newest = newest_glibc(bootstrap)
        ok = newest <= MAX_GLIBC
        failed += not ok
        shown = "GLIBC_" + ".".join(map(str, newest))
        print(f"  {'ok ' if ok else 'NO '} {bootstrap.relative_to(ROOT) if bootstrap.is_relative_to(ROOT) else bootstrap}: "
              f"needs at most {shown}" + ("" if ok else f", newer than AL2023's GLIBC_2.34"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
