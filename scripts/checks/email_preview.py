#!/usr/bin/env python3
"""The e-mails' HTML as a mail reader's browser shows it: each kind (session link, OTP) in each
layout, composed by the email function's own code from the reference samples (the `preview`
example of `functions/email`), rendered by headless Chromium to a PNG, and checked in the DOM
Chromium parsed: no script or anything else that runs or loads (frames, objects, forms, style
sheets, event handlers, CSS `url()`), no image but the configured logo, every link the sample's
session link (none in an OTP), a `lang`, at most 600 px wide, under Gmail's clipping size.
Chromium runs with every host name unresolvable, so a page that needed the network would show
it: the logo's place shows its alt text, as with images off.

  email_preview.py          render and check; the pictures in target/email-preview/<layout>/
  email_preview.py --docs   also copy the branded pictures to docs/images/ (the docs show them)

Chromium is Debian's `chromium` package: installed with apt-get when missing (as root), else
the script says how to get it and exits 2.
"""
import argparse
import html.parser
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "email-preview"
DOCS = ROOT / "docs" / "images"
KINDS = ("link", "otp")
LAYOUTS = ("branded", "plain")
MAX_HTML_BYTES = 100_000
# Elements that run something, load something or send something.
FORBIDDEN = {"script", "iframe", "frame", "object", "embed", "applet", "link", "form", "base",
             "video", "audio", "source", "svg", "math", "style", "input", "button", "meta-refresh"}
URL_ATTRIBUTES = {"src", "href", "srcset", "background", "action", "formaction", "poster",
                  "data", "lowsrc", "dynsrc", "xlink:href"}


def chromium() -> str:
    """Chromium's path, installed from Debian's packages if it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("Chromium is missing: apt-get install chromium (Debian's package), then run again",
              file=sys.stderr)
        sys.exit(2)
    print("==> installing Debian's chromium package", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
    return shutil.which("chromium") or sys.exit("apt-get installed no chromium")


def browser(binary: str, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with the network unreachable (every host name unresolvable)."""
    return subprocess.run(
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--disable-background-networking", *args],
        capture_output=True, text=True, timeout=120)


class Page(html.parser.HTMLParser):
    """What a DOM holds that the checks look at."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # (element, attribute, value)
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)
        for name, value in attrs:
            value = value or ""
            if tag == "html" and name == "lang":
                self.lang = value
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in URL_ATTRIBUTES:
                self.urls.append((tag, name, value))
            if name == "style":
                self.styles.append(value)
            if tag == "meta" and name == "http-equiv" and value.lower() == "refresh":
                self.elements.append("meta-refresh")


def problems(dom: str, source: str, kind: str, expected: dict) -> list[str]:
    """Everything wrong with a page: its DOM as the browser parsed it, its source as sent."""
    page = Page()
    page.feed(dom)
    found = []
    found += [f"a <{e}> element" for e in page.elements if e in FORBIDDEN]
    found += [f"an event handler ({h})" for h in page.handlers]
    found += [f"a CSS url() in a style ({s[:60]})" for s in page.styles if "url(" in s.lower()]
    links = [v for tag, name, v in page.urls if tag == "a" and name == "href"]
    others = [(t, n, v) for t, n, v in page.urls if not (t == "a" and n == "href")]
    for tag, name, value in others:
        if not (tag == "img" and name == "src" and expected.get("logo") and value == expected["logo"]):
            found.append(f"an external resource: <{tag} {name}={value!r}>")
    if kind == "link":
        if not links:
            found.append("no link to the session")
        found += [f"a link elsewhere than the session link: {v!r}" for v in links
                  if v != expected["sessionLink"]]
    elif links:
        found.append(f"links in an OTP e-mail: {links}")
    if not page.lang and expected.get("logo"):
        found.append("no lang on <html>")
    if expected.get("logo") and not any("max-width:600px" in s for s in page.styles):
        found.append("no 600 px bound")
    if len(source.encode()) > MAX_HTML_BYTES:
        found.append(f"{len(source.encode())} bytes: Gmail clips past {MAX_HTML_BYTES}")
    return found


def example() -> str:
    """The preview example, built for the whole workspace as `make test`'s build makes it: the
    same features for every dependency, so nothing is compiled again (`cargo run -p email`
    would unify features over email's dependencies alone, and rebuild the SDK)."""
    built = subprocess.run(["cargo", "build", "--workspace", "--examples", "--message-format=json"],
                           cwd=ROOT, capture_output=True, text=True)
    for line in built.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "preview":
            if built.returncode == 0 and message.get("executable"):
                return message["executable"]
    sys.exit(f"the preview example did not build:\n{built.stderr[-2000:]}")


def preview(binary: str, layout: str) -> pathlib.Path:
    folder = OUT / layout
    made = subprocess.run([binary, str(folder), layout], cwd=ROOT, capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit(f"the preview example failed:\n{made.stderr}")
    return folder


def check_all(binary: str) -> list[str]:
    failures = []
    made_by = example()
    for layout in LAYOUTS:
        folder = preview(made_by, layout)
        expected = json.loads((folder / "expected.json").read_text())
        for kind in KINDS:
            page = folder / f"{kind}.html"
            picture = folder / f"{kind}.png"
            picture.unlink(missing_ok=True)
            # One run: the picture, and the DOM as this browser parsed the same page.
            seen = browser(binary, "--window-size=680,480", f"--screenshot={picture}",
                           "--dump-dom", page.as_uri())
            found = [] if seen.returncode == 0 and picture.exists() else [
                f"no screenshot: {seen.stderr.strip()[-300:]}"]
            if seen.returncode != 0 or "<html" not in seen.stdout:
                found.append(f"no DOM: {seen.stderr.strip()[-300:]}")
            else:
                found += problems(seen.stdout, page.read_text(), kind, expected)
            mark = "ok " if not found else "NO "
            print(f"  {mark} {layout:8} {kind:4} {(folder / kind).relative_to(ROOT)}.png"
                  + "".join(f"\n        {p}" for p in found))
            failures += [f"{layout} {kind}: {p}" for p in found]
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true", help="copy the branded pictures to docs/images/")
    args = parser.parse_args()
    binary = chromium()
    failures = check_all(binary)
    if failures:
        print(f"{len(failures)} problem(s)")
        return 1
    if args.docs:
        DOCS.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            shutil.copy(OUT / "branded" / f"{kind}.png", DOCS / f"email-branded-{kind}.png")
        print(f"copied to {DOCS.relative_to(ROOT)}/")
    print("every page renders, and holds no script, no external resource but the logo and no "
          "link but the session link")
    return 0


if __name__ == "__main__":
    sys.exit(main())
