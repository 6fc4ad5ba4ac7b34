#!/usr/bin/env python3
"""A stand-in for Lambda's provided.al2023 base image, built from Debian's packages.

`sam local` runs a provided.al2023 zip function on `public.ecr.aws/lambda/provided:al2023-<arch>`,
adding its Runtime Interface Emulator on top (`ADD`, then `RUN mv ... && chmod +x ...`). Where
no container registry is reachable that image cannot be pulled, so this builds one under the
same name for SAM to find (run SAM with `--skip-pull-image`). It holds what SAM's layer and a
Rust bootstrap need, no more: Debian's glibc (libc6) and libgcc, BusyBox (busybox-static) for the
shell, `mv` and `chmod` of SAM's Dockerfile, and Lambda's directories (/var/task, /var/runtime,
/opt, /tmp). The packages are fetched from deb.debian.org and checked as apt checks them: the
release file's signature against Debian's archive keyring (gpgv; where either is missing, a
warning says the release is not verified), the package index against the release's hash, each
package against the index's. Python alone (no debootstrap, no root, any Linux with Docker); the
root is imported with `docker import`.

What differs from AWS's image: the distribution (Debian 12, glibc 2.36, where AL2023 has 2.34:
`make glibc-check` holds the bootstraps to AL2023's), and nothing else a bootstrap sees; no
`/lambda-entrypoint.sh` (SAM starts the emulator itself). Built once per machine: an image of
the name that carries this recipe's label is kept. On a machine with registry access, SAM
pulls the real image instead when run without `--skip-pull-image`.

  lambda_base_image.py [--arch x86_64|arm64] [--force]   build (or keep) the image, print its name
"""
import argparse
import hashlib
import io
import lzma
import pathlib
import platform
import shutil
import subprocess
import sys
import tarfile
import urllib.request

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PACKAGES = ("libc6", "libgcc-s1", "busybox-static")
# What SAM's Dockerfile runs, and a shell for whoever looks inside.
APPLETS = ("sh", "mv", "chmod", "cp", "rm", "ls", "cat", "env", "mkdir")
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
REPOSITORY = "public.ecr.aws/lambda/provided"
LABEL = "identomat.lambda-base"


def image_name(arch: str) -> str:
    return f"{REPOSITORY}:al2023-{arch}"


def recipe(arch: str) -> str:
    """What the image is built from; its label, so a changed recipe builds anew."""
    text = "|".join([SUITE, arch, *PACKAGES, *APPLETS, pathlib.Path(__file__).read_text()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


KEYRING = pathlib.Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def verified_release() -> str:
    """The suite's InRelease, its signature checked against Debian's archive keyring."""
    signed = fetch(f"{MIRROR}/dists/{SUITE}/InRelease")
    gpgv = shutil.which("gpgv")
    if gpgv and KEYRING.exists():
        checked = subprocess.run([gpgv, "--keyring", str(KEYRING), "-"], input=signed,
                                 capture_output=True)
        if checked.returncode != 0:
            sys.exit(f"InRelease: the signature does not verify: {checked.stderr.decode().strip()}")
    else:
        print("warning: no gpgv or no Debian archive keyring here: the release is not verified",
              file=sys.stderr)
    return signed.decode()


def package_index(arch: str) -> dict[str, dict[str, str]]:
    """The suite's Packages index for `arch`: each package's fields (Filename, SHA256, ...),
    checked against the signed release's hash of it."""
    release = verified_release()
    path = f"main/binary-{arch}/Packages.xz"
    wanted = next((line.split()[0] for line in release.split("SHA256:")[1].splitlines()
                   if line.strip().endswith(" " + path)), None)
    data = fetch(f"{MIRROR}/dists/{SUITE}/{path}")
    if wanted is None or hashlib.sha256(data).hexdigest() != wanted:
        sys.exit(f"{path}: its checksum is not the Release file's")
    index: dict[str, dict[str, str]] = {}
    for stanza in lzma.decompress(data).decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if ": " in line and not line.startswith(" "))
        if fields.get("Package") in PACKAGES:
            index[fields["Package"]] = fields
    missing = set(PACKAGES) - set(index)
    if missing:
        sys.exit(f"not in {SUITE}/{arch}: {', '.join(sorted(missing))}")
    return index


def data_tar(deb: bytes) -> tarfile.TarFile:
    """The `data.tar.*` member of a .deb (an `ar` archive)."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a .deb")
    offset = 8
    while offset < len(deb):
        header = deb[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = deb[offset + 60:offset + 60 + size]
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(body))
        offset += 60 + size + (size % 2)
    raise ValueError("a .deb without data.tar")


def root_filesystem(arch: str) -> bytes:
    """The image's root as a tar: the packages' files, the applets, Lambda's directories."""
    index = package_index(DEBIAN_ARCH[arch])
    out = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=out, mode="w") as root:
        for name in PACKAGES:
            fields = index[name]
            deb = fetch(f"{MIRROR}/{fields['Filename']}")
            if hashlib.sha256(deb).hexdigest() != fields["SHA256"]:
                sys.exit(f"{name}: its checksum is not the index's")
            with data_tar(deb) as files:
                for member in files.getmembers():
                    member.name = member.name.removeprefix("./")
                    if not member.name or member.name in seen or member.name.startswith("usr/share/"):
                        continue
                    seen.add(member.name)
                    root.addfile(member, files.extractfile(member) if member.isfile() else None)

        def directory(path: str, mode: int = 0o755) -> None:
            if path not in seen:
                info = tarfile.TarInfo(path)
                info.type, info.mode = tarfile.DIRTYPE, mode
                root.addfile(info)
                seen.add(path)

        for path in ("bin", "var", "var/task", "var/runtime", "var/rapid", "opt", "etc"):
            directory(path)
        directory("tmp", 0o1777)
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            root.addfile(link)
        # x86_64's loader is looked up at /lib64; Debian's libc6 ships it under /lib only.
        if arch == "x86_64" and "lib64/ld-linux-x86-64.so.2" not in seen:
            directory("lib64")
            loader = tarfile.TarInfo("lib64/ld-linux-x86-64.so.2")
            loader.type, loader.linkname = tarfile.SYMTYPE, "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
            root.addfile(loader)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        root.addfile(info, io.BytesIO(passwd))
    return out.getvalue()


def current(arch: str) -> bool:
    """An image of the name built from this recipe exists."""
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}',
         image_name(arch)], capture_output=True, text=True)
    return found.returncode == 0 and found.stdout.strip() == recipe(arch)


def build(arch: str) -> None:
    rootfs = root_filesystem(arch)
    changes = [
        f"LABEL {LABEL}={recipe(arch)}",
        "ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
        "ENV LANG=en_US.UTF-8 TZ=:/etc/localtime",
        "ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime",
        "WORKDIR /var/task",
    ]
    command = ["docker", "import", "--platform", f"linux/{DEBIAN_ARCH[arch]}"]
    for change in changes:
        command += ["--change", change]
    imported = subprocess.run([*command, "-", image_name(arch)], input=rootfs, capture_output=True)
    if imported.returncode != 0:
        sys.exit(f"docker import failed: {imported.stderr.decode().strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    machine = {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")
    parser.add_argument("--arch", choices=sorted(DEBIAN_ARCH), default=machine)
    parser.add_argument("--force", action="store_true", help="build even if the image is current")
    args = parser.parse_args()
    if args.force or not current(args.arch):
        print(f"==> building {image_name(args.arch)} from Debian {SUITE}'s "
              f"{', '.join(PACKAGES)}", file=sys.stderr, flush=True)
        build(args.arch)
    print(image_name(args.arch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
