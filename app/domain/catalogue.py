"""Which unit should take a ticket: the dispatch catalogue's rule for a category and territory, plus keywords."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Leaf:
    """A catalogue leaf as the rule needs it."""

    code: str
    name: str
    responsible: str  # "unit" or "territory"
    unit_code: str | None
    co_units: tuple[str, ...]
    keywords: tuple[str, ...]
    urgency: str


@dataclass(frozen=True)
class Suggestion:
    """A unit suggested for a ticket, as lead or co-unit, with the reason in Chinese."""

    unit_code: str
    role: str  # "lead", "co", or "alt" (an alternative lead found by keywords)
    reason: str


def suggest_units(
    leaf: Leaf | None,
    township_unit: str | None,
    township_name: str | None,
    text: str,
    leaves: list[Leaf] = (),
) -> list[Suggestion]:
    """Suggest the lead and co-units for (category, territory, text), each with its reason.

    The chosen category decides (职权法定、属地管理); when there is none, leaves whose keywords occur
    in the text are offered, best match first.
    """
    out: list[Suggestion] = []
    seen: set[str] = set()

    def add(code: str | None, role: str, reason: str) -> None:
        if code and code not in seen:
            seen.add(code)
            out.append(Suggestion(code, role, reason))

    if leaf is not None:
        if leaf.responsible == "territory":
            if township_unit:
                add(township_unit, "lead", f"“{leaf.name}”按属地管理，由{township_name or '所属乡镇'}办理")
        else:
            add(leaf.unit_code, "lead", f"派单目录规定“{leaf.name}”由该单位办理")
        for co in leaf.co_units:
            add(co, "co", f"派单目录规定“{leaf.name}”由该单位协办")
        return out
    scored = []
    for cand in leaves:
        hits = [k for k in cand.keywords if k and k in text]
        if hits:
            scored.append((len(hits), sum(len(h) for h in hits), cand, hits))
    scored.sort(key=lambda s: (-s[0], -s[1], s[2].code))
    for _, _, cand, hits in scored[:3]:
        unit = township_unit if cand.responsible == "territory" else cand.unit_code
        add(unit, "lead" if not out else "alt", f"内容含“{'、'.join(hits)}”，与“{cand.name}”相符")
    return out
