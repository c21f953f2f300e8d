"""The ticket lifecycle as one table: (state, action, outcome) → who may do it and the next state.

Every combination not in the table is refused. Pending extension / return requests are attached to
the ticket, not states; whether one may be asked or decided is checked by the services.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidTransition, NotPermitted

STATES = {
    "received": "待派单",
    "dispatched": "待签收",
    "in_progress": "办理中",
    "replied": "已答复",
    "closed": "已办结",
    "answered_directly": "直接答复",
    "rejected": "不予受理",
    "transferred": "已移送",
    "escalated": "上报协调",
}
OPEN_STATES = ("received", "dispatched", "in_progress", "replied", "escalated")
FINAL_STATES = ("closed", "answered_directly", "rejected", "transferred")
UNIT_STATES = ("dispatched", "in_progress")  # the unit's clock is running

ACTIONS = {
    "answer_directly": "直接答复",
    "dispatch": "派单",
    "sign": "签收",
    "contact": "联系诉求人",
    "note": "办理记录",
    "co_reply": "协办意见",
    "reply": "答复",
    "request_extension": "申请延期",
    "decide_extension": "审核延期",
    "request_return": "申请退单",
    "decide_return": "审核退单",
    "send_back": "退回重办",
    "escalate": "上报协调",
    "reject": "不予受理",
    "transfer": "移送",
    "callback": "回访",
    "intake": "受理",
    "update": "修改工单",
    "link": "关联工单",
    "unlink": "解除关联",
    "key_supervision": "纳入重点督办",
    "key_supervision_removed": "移出重点督办",
    "clue_transfer": "线索移送",
}
# Recorded in a ticket's timeline but not steps of the lifecycle: not in TABLE, never done through
# services.tickets.act(); repeat appeals and key supervision (services.repeats) write them.
RECORD_ONLY = frozenset({"intake", "link", "unlink", "key_supervision", "key_supervision_removed", "clue_transfer"})

S = None  # "stay": the action leaves the state as it is

# (state, action, outcome) -> (roles allowed, next state or S)
TABLE: dict[tuple[str, str, str | None], tuple[frozenset[str], str | None]] = {}


def _allow(states, action: str, roles, to: str | None, outcome: str | None = None) -> None:
    for state in states:
        TABLE[(state, action, outcome)] = (frozenset(roles), to)


_allow(["received"], "answer_directly", {"operator", "center"}, "answered_directly")
_allow(["received", "escalated"], "dispatch", {"center"}, "dispatched")
_allow(["dispatched"], "sign", {"handler"}, "in_progress")
_allow(["in_progress"], "sign", {"handler"}, S)  # a co-unit signing after the lead
_allow(["in_progress"], "contact", {"handler"}, S)
_allow(["dispatched", "in_progress"], "note", {"handler", "center"}, S)
_allow(["received", "replied", "escalated"], "note", {"center", "operator"}, S)
_allow(["in_progress"], "co_reply", {"handler"}, S)
_allow(["in_progress"], "reply", {"handler"}, "replied")
_allow(["dispatched", "in_progress"], "request_extension", {"handler"}, S)
_allow(["dispatched", "in_progress"], "decide_extension", {"center"}, S, "approve")
_allow(["dispatched", "in_progress"], "decide_extension", {"center"}, S, "refuse")
_allow(["dispatched", "in_progress"], "request_return", {"handler"}, S)
_allow(["dispatched", "in_progress"], "decide_return", {"center"}, "received", "approve")
_allow(["dispatched", "in_progress"], "decide_return", {"center"}, S, "refuse")
_allow(["replied"], "send_back", {"center"}, "in_progress")
_allow(["received"], "escalate", {"center"}, "escalated")
_allow(["received", "escalated"], "reject", {"center"}, "rejected")
_allow(["received", "escalated"], "transfer", {"center"}, "transferred")
_allow(["replied"], "callback", {"operator", "center"}, "closed", "close")
_allow(["replied"], "callback", {"operator", "center"}, "in_progress", "reopen")
_allow(OPEN_STATES, "update", {"operator", "center"}, S)


@dataclass(frozen=True)
class Step:
    """An allowed step: the action and the state it leads to."""

    action: str
    outcome: str | None
    to_state: str


def check_role(action: str, role: str) -> None:
    """Refuse (403) a role that may never take this action, whatever the ticket's state."""
    if not any(k[1] == action and role in r for k, (r, _) in TABLE.items()):
        raise NotPermitted(f"您的角色不能进行“{ACTIONS.get(action, action)}”。")


def step(state: str, action: str, role: str, outcome: str | None = None) -> Step:
    """The next state for (state, action, role, outcome), or raise with a Chinese message."""
    if action not in ACTIONS:
        raise InvalidTransition(f"没有“{action}”这种操作。")
    check_role(action, role)
    entry = TABLE.get((state, action, outcome))
    if entry is None:
        if any(k[0] == state and k[1] == action for k in TABLE):
            raise InvalidTransition(f"“{ACTIONS[action]}”的结果不对。")
        raise InvalidTransition(
            f"工单当前状态为“{STATES.get(state, state)}”，不能进行“{ACTIONS[action]}”。"
        )
    roles, to = entry
    if role not in roles:
        raise InvalidTransition(f"您的角色不能对“{STATES.get(state, state)}”的工单进行“{ACTIONS[action]}”。")
    return Step(action, outcome, to or state)


def allowed_actions(state: str, role: str) -> set[str]:
    """Actions this role may take on a ticket in this state (for showing buttons)."""
    return {a for (s, a, _), (roles, _) in TABLE.items() if s == state and role in roles}
