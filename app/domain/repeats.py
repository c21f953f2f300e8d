"""Repeat appeals (DOMAIN.md "Repeat appeals"): matching Chinese appeal text, and the 一人多次 / 一事多人 rules.

Pure: no Flask, no SQL. The services hand in the ticket being evaluated and its candidates (found
through indexes) as ``Appeal`` values, the explicit links, and the rules; this module decides.

* **Same matter / same event**: explicitly linked by a person; or not detached by a person, and same
  category, same place (same village, or one of the two filed at township level in that township),
  and similar text (``similarity`` ≥ threshold).
* **一人多次 repeat_caller**: the same caller (normalised phone or ID number; never anonymous) on the
  same matter ≥ threshold times inside a rolling window of days.
* **一事多人 mass_event**: the same event from ≥ threshold *distinct* callers inside a rolling window
  of hours; several calls from one phone count once.

Windows are closed intervals: with 30 days, a call exactly 30 days after the first still counts.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapidfuzz.distance import Indel

RULES = {"repeat_caller": "一人多次", "mass_event": "一事多人", "manual": "中心指定"}

# Words that carry no meaning for "is this the same matter": greetings, call-centre phrases,
# politeness and pronouns. Longest first so that 我想反映 goes before 反映.
FILLERS = sorted({
    "你好", "您好", "喂", "请问", "麻烦你们", "麻烦", "帮忙", "帮帮忙", "谢谢", "感谢", "拜托", "一下", "那个", "这个",
    "就是", "然后", "的话", "我想反映", "我要反映", "我想问", "我要投诉", "我想投诉", "我要举报", "反映", "投诉",
    "举报", "咨询", "12345", "热线", "政府", "领导", "你们", "我们", "他们", "我家", "我", "你", "他", "她",
    "希望", "请", "赶快", "赶紧", "尽快", "快点", "马上", "一直", "现在", "已经", "还是", "还", "又", "也", "都",
    "就", "很", "太", "非常", "特别", "真的", "啊", "呀", "吧", "呢", "嘛", "哦", "哈", "啦", "咯", "噢", "嗯",
    "吗", "诶", "了", "的", "地", "得", "着", "过", "是", "在", "有", "个", "和", "跟", "给", "把", "被", "说",
}, key=len, reverse=True)
_FILLER_RE = re.compile("|".join(re.escape(w) for w in FILLERS))
_NOT_WORD_RE = re.compile(r"[\W_]+")  # punctuation, spaces and symbols: keeps letters (汉字 too) and digits


@functools.lru_cache(maxsize=4096)  # the same stored appeals come back as candidates call after call
def normalize_text(text: str) -> str:
    """Full-width → half-width, lower case, filler words, punctuation and spaces removed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _FILLER_RE.sub("", _NOT_WORD_RE.sub("", text))


def similarity(a: "Appeal", b: "Appeal") -> float:
    """0–1: how alike two appeals read (docs/REPEATS.md shows why this measure and threshold)."""
    return text_similarity(a.norm, b.norm, a.chars, b.chars)


def text_similarity(a: str, b: str, ca: frozenset | None = None, cb: frozenset | None = None) -> float:
    """Half the share of the shorter text's characters found in the other, half the Indel ratio.

    Characters, not words: Chinese has no spaces, and villagers say 街口 / 街子口上 or 水管爆了 /
    水管子爆开了 for the same thing, which share characters but few bigrams. The Indel ratio (rapidfuzz)
    adds order and length, so a four-character title does not match every long text containing it.
    """
    if not a or not b:
        return 0.0
    ca = frozenset(a) if ca is None else ca
    cb = frozenset(b) if cb is None else cb
    shared = len(ca & cb) / min(len(ca), len(cb))
    return 0.5 * shared + 0.5 * Indel.normalized_similarity(a, b)


@dataclass(frozen=True)
class Appeal:
    """One ticket as the rules see it."""

    id: int
    received_at: datetime
    phone: str = ""
    id_number: str = ""
    anonymous: bool = False
    territory_code: str = ""
    township_code: str = ""
    category_code: str = ""
    title: str = ""
    content: str = ""
    number: str = ""
    norm: str = field(init=False, repr=False, compare=False)
    chars: frozenset = field(init=False, repr=False, compare=False)
    key: str = field(init=False, repr=False, compare=False)  # caller_key, computed once

    def __post_init__(self):
        # frozen, yet computed once: the group search compares each appeal with many others
        norm = normalize_text(f"{self.title}{self.content}")
        object.__setattr__(self, "norm", norm)
        object.__setattr__(self, "chars", frozenset(norm))
        object.__setattr__(self, "key", self.caller_key)

    @property
    def caller_key(self) -> str:
        """Who called, for counting distinct people (see caller_key())."""
        return caller_key(self.phone, self.id_number, self.id)


def caller_key(phone: str, id_number: str, ticket_id: int) -> str:
    """Who called, for counting distinct people: the phone, else the ID number, else this ticket alone."""
    if phone:
        return "p:" + phone
    if id_number:
        return "i:" + id_number.upper()
    return f"t:{ticket_id}"


@dataclass(frozen=True)
class Rules:
    """Thresholds and windows (from config [repeats])."""

    repeat_caller_threshold: int = 5
    repeat_caller_window: timedelta = timedelta(days=30)
    mass_event_threshold: int = 5
    mass_event_window: timedelta = timedelta(hours=72)
    similarity: float = 0.36

    def threshold(self, rule: str) -> int:
        return self.repeat_caller_threshold if rule == "repeat_caller" else self.mass_event_threshold

    def window(self, rule: str) -> timedelta:
        return self.repeat_caller_window if rule == "repeat_caller" else self.mass_event_window


def pair(a: int, b: int) -> frozenset[int]:
    """The unordered key of two tickets."""
    return frozenset((a, b))


@dataclass
class Relations:
    """What people said about pairs: linked (same), detached (not the same); and groups already on key supervision."""

    linked: set = field(default_factory=set)
    detached: set = field(default_factory=set)
    groups: dict = field(default_factory=dict)  # rule -> list of sets of ticket ids already in one item

    def together(self, rule: str, a: int, b: int) -> bool:
        """Are both tickets in one existing item of this rule?"""
        index = self._index().get(rule, {})
        return bool(index.get(a, _NONE) & index.get(b, _NONE))

    def _index(self) -> dict:
        # ticket -> the items it is in, rebuilt only when `groups` is replaced: the group search asks n² times
        if getattr(self, "_indexed", None) is not self.groups:
            self._by_ticket = {rule: {} for rule in self.groups}
            for rule, groups in self.groups.items():
                for n, g in enumerate(groups):
                    for t in g:
                        self._by_ticket[rule].setdefault(t, set()).add(n)
            self._indexed = self.groups
        return self._by_ticket


_NONE: frozenset = frozenset()


def same_caller(a: Appeal, b: Appeal) -> bool:
    """Same normalised phone, or same ID number."""
    return bool((a.phone and a.phone == b.phone) or (a.id_number and a.id_number.upper() == b.id_number.upper()))


def same_place(a: Appeal, b: Appeal) -> bool:
    """Same village; or one of the two was filed at township level within the other's township."""
    if a.territory_code == b.territory_code:
        return True
    at_township = a.territory_code == a.township_code or b.territory_code == b.township_code
    return at_township and a.township_code == b.township_code


def same_matter(a: Appeal, b: Appeal, rules: Rules, rel: Relations, rule: str | None = None) -> bool:
    """The definition of "same matter / same event" (explicit decisions by people win)."""
    if rel.detached or rel.linked:
        key = pair(a.id, b.id)
        if key in rel.detached:
            return False
        if key in rel.linked:
            return True
    if rule and rel.groups and rel.together(rule, a.id, b.id):
        return True
    return a.category_code == b.category_code and same_place(a, b) and similarity(a, b) >= rules.similarity


@dataclass
class Finding:
    """The outcome of one rule for one ticket: its group, the best window's size, and whether it trips."""

    rule: str
    ticket: Appeal
    group: list[Appeal]        # same matter as the ticket, inside ± window, oldest first (includes the ticket)
    count: int                 # tickets in the best window that contains the ticket
    callers: int               # distinct callers in that window
    threshold: int
    tripped: bool
    members: list[Appeal]      # tickets of all windows that reach the threshold (empty unless tripped)

    @property
    def measure(self) -> int:
        """What the threshold is compared with: calls for 一人多次, distinct people for 一事多人."""
        return self.count if self.rule == "repeat_caller" else self.callers

    @property
    def remaining(self) -> int:
        """How many more (calls or people) until the rule trips; 0 when it has."""
        return max(self.threshold - self.measure, 0)

    @property
    def others(self) -> list[Appeal]:
        """The group without the ticket itself, newest first."""
        return sorted((a for a in self.group if a.id != self.ticket.id), key=lambda a: a.received_at, reverse=True)


def eligible(rule: str, ticket: Appeal, other: Appeal) -> bool:
    """May `other` be in `ticket`'s group under this rule at all (before comparing content)?"""
    if rule == "repeat_caller":
        return not other.anonymous and same_caller(ticket, other)
    return True


def group_of(rule: str, ticket: Appeal, candidates: list[Appeal], rules: Rules, rel: Relations) -> list[Appeal]:
    """The ticket's connected group of same-matter tickets within ± window of it, oldest first.

    Connected, not just similar to the ticket: five villagers describe one burst pipe in five ways,
    and the fifth may resemble the third more than the first.
    """
    window = rules.window(rule)
    pool = {c.id: c for c in candidates
            if c.id != ticket.id and abs(c.received_at - ticket.received_at) <= window and eligible(rule, ticket, c)}
    return _grow(rule, ticket, pool, rules, rel)


def _grow(rule: str, seed: Appeal, pool: dict[int, Appeal], rules: Rules, rel: Relations) -> list[Appeal]:
    """Breadth-first from seed over "same matter"; takes what it reaches out of pool.

    A ticket a person detached from any ticket already in the group stays out, even when a third
    ticket resembles both: "not the same matter" said by a person is never overruled by the text.
    """
    group, frontier = {seed.id: seed}, [seed]
    while frontier:
        node = frontier.pop(0)
        for cid in [cid for cid, c in pool.items() if same_matter(node, c, rules, rel, rule)]:
            if rel.detached and any(pair(cid, gid) in rel.detached for gid in group):
                continue
            group[cid] = pool.pop(cid)
            frontier.append(group[cid])
    return sorted(group.values(), key=lambda a: (a.received_at, a.id))


def _measure(rule: str, window: list[Appeal]) -> int:
    return len(window) if rule == "repeat_caller" else len({a.key for a in window})


def _windows(appeals: list[Appeal], window: timedelta, starts) -> list[tuple[int, int]]:
    """(first, past-last) index of the window [s, s + window] for each start index, over appeals sorted by time.

    Two pointers over the sorted list: linear, so a burst of fifty reports costs no more than fifty steps.
    """
    out, end = [], 0
    for i in starts:
        end = max(end, i)
        while end < len(appeals) and appeals[end].received_at <= appeals[i].received_at + window:
            end += 1
        out.append((i, end))
    return out


def evaluate_rule(rule: str, ticket: Appeal, candidates: list[Appeal], rules: Rules,
                  rel: Relations | None = None) -> Finding:
    """Apply one rule to the ticket: the best rolling window that contains it, and whether it trips."""
    rel = rel or Relations()
    if rule == "repeat_caller" and (ticket.anonymous or not (ticket.phone or ticket.id_number)):
        return Finding(rule, ticket, [ticket], 1, 1, rules.threshold(rule), False, [])
    group = group_of(rule, ticket, candidates, rules, rel)
    window, threshold = rules.window(rule), rules.threshold(rule)
    best, best_measure = [ticket], 1
    members: dict[int, Appeal] = {}
    # every window [s, s + window] that contains the ticket starts at a group member no later than it
    starts = [i for i, a in enumerate(group) if ticket.received_at - window <= a.received_at <= ticket.received_at]
    upto = 0
    for i, j in _windows(group, window, starts):
        inside = group[i:j]
        measure = _measure(rule, inside)
        if measure > best_measure:
            best, best_measure = inside, measure
        if measure >= threshold:
            # windows only move right, so each member is added once
            members.update((a.id, a) for a in group[max(i, upto):j])
            upto = max(upto, j)
    tripped = bool(members)
    return Finding(rule, ticket, group, len(best), _measure("mass_event", best), threshold, tripped,
                   sorted(members.values(), key=lambda a: (a.received_at, a.id)))


def evaluate(ticket: Appeal, candidates: list[Appeal], rules: Rules, rel: Relations | None = None) -> dict[str, Finding]:
    """Both rules for one ticket."""
    return {rule: evaluate_rule(rule, ticket, candidates, rules, rel) for rule in ("repeat_caller", "mass_event")}


def best_window(rule: str, appeals: list[Appeal], rules: Rules) -> int:
    """The largest measure (calls, or distinct callers) of any rolling window over these appeals."""
    ordered = sorted(appeals, key=lambda a: (a.received_at, a.id))
    return max((_measure(rule, ordered[i:j]) for i, j in _windows(ordered, rules.window(rule), range(len(ordered)))),
               default=0)


def components(rule: str, appeals: list[Appeal], rules: Rules, rel: Relations) -> list[list[Appeal]]:
    """Split appeals into groups connected by "same matter", largest first (ties: the earliest first)."""
    pool = {a.id: a for a in appeals}
    out = []
    while pool:
        seed = pool.pop(min(pool, key=lambda i: (pool[i].received_at, i)))
        out.append(_grow(rule, seed, pool, rules, rel))
    return sorted(out, key=lambda g: (-len(g), g[0].received_at, g[0].id))


def warning(f: Finding, rules: Rules) -> str:
    """What the operator reads while typing, e.g. 30天内第4次反映同一事项，再1次将纳入重点督办."""
    if f.rule == "repeat_caller":
        head = f"{rules.repeat_caller_window.days}天内第{f.count}次反映同一事项"
        return head + ("，已达到一人多次条件，将纳入重点督办" if f.tripped else f"，再{f.remaining}次将纳入重点督办")
    hours = int(rules.mass_event_window.total_seconds() // 3600)
    head = f"{hours}小时内已有{f.callers}人反映同一事件（含本次来电）"
    return head + ("，已达到一事多人条件，将纳入重点督办" if f.tripped else f"，再有{f.remaining}人反映将纳入重点督办")
