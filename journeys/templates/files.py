"""Template files: the lookup by locale and channel described in the package docstring."""

from __future__ import annotations

from pathlib import Path


def locale_chain(locale: str | None) -> list[str | None]:
    """`fa-IR` → [`fa-IR`, `fa`, None]: the order in which template files are tried."""
    chain: list[str | None] = []
    if locale:
        locale = locale.replace("_", "-")
        chain.append(locale)
        language = locale.split("-")[0]
        if language != locale:
            chain.append(language)
    chain.append(None)
    return chain


class TemplateFiles:
    """Finds template files under a templates folder (see the package docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, str, str | None], Path | None] = {}

    def path(self, name: str, channel: str, locale: str | None = None) -> Path:
        middle = f".{locale}" if locale else ""
        return self.root / f"{name}{middle}.{channel}.yaml"

    def find(self, name: str, channel: str, locale: str | None = None) -> Path | None:
        """The file used for a customer with this locale, or None when there is none at all."""
        key = (name, channel, locale)
        if key not in self._cache:
            self._cache[key] = next(
                (p for loc in locale_chain(locale) if (p := self.path(name, channel, loc)).is_file()), None
            )
        return self._cache[key]

    def variants(self, name: str, channel: str) -> list[Path]:
        """Every file of this template for this channel (the fallback and each locale)."""
        if ".." in Path(name).parts or Path(name).is_absolute():
            return []
        folder = (self.root / name).parent
        stem = Path(name).name
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(f"{stem}.*{channel}.yaml") if p.name.split(".")[0] == stem and p.is_file())
