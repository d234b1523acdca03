"""docs/config.md, generated from the settings table so the reference cannot drift."""

from __future__ import annotations

from .settings import SECTIONS, SETTINGS


def render_reference() -> str:
    """The settings reference as Markdown."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from asgi_master/config/settings.py by "
        "`python -m asgi_master.config.reference`; do not edit by hand. -->",
        "",
        "Every setting can be given in four places; a later one wins:",
        "",
        "1. its default,",
        "2. the TOML file named by `-c FILE` (or `$ASGI_MASTER_CONFIG`), as a top-level key,",
        "3. the environment variable `ASGI_MASTER_<NAME>`,",
        "4. the command-line flag.",
        "",
        "Lists are TOML arrays in the file, comma-separated in the environment, and a repeated "
        "flag on the command line. Booleans are `true`/`false` (`1`/`0`, `yes`/`no`, `on`/`off` "
        "in the environment; `--flag`/`--no-flag` on the command line). An unknown key, or a "
        "value of the wrong type, stops the server with one line naming the key, where it was "
        "set and what was expected (exit status 2). `asgi-master --check-config` prints the "
        "effective configuration with the source of each value.",
        "",
    ]
    for section in SECTIONS:
        out += [f"## {section.capitalize()}", ""]
        for s in SETTINGS:
            if s.section != section:
                continue
            flags = f"`{s.short}`, `{s.flag}`" if s.short else f"`{s.flag}`"
            if s.name == "app":
                flags += ", or the first positional argument"
            out += [
                f"### `{s.name}`",
                "",
                s.help,
                "",
                f"- type: {s.type.expected}",
                f"- default: `{s.type.render(s.default)}`",
                f"- flag: {flags}",
                f"- environment: `{s.env}`",
                "",
            ]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_reference(), end="")
