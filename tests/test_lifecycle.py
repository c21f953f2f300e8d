"""The lifecycle table, checked cell by cell against the rules written out by hand below.

EXPECTED is typed from the issue and DOMAIN.md, not derived from app.domain.lifecycle.TABLE, so a
wrong or missing row in the code shows up here as a failing (state, action, role, outcome) case.
"""
import pytest

from app.domain import lifecycle
from app.domain.errors import InvalidTransition, NotPermitted
from app.domain.lifecycle import ACTIONS, STATES, allowed_actions, step

ROLES = ("operator", "center", "handler", "leader", "admin")
STAY = "stay"  # the action keeps the ticket in its state
OPC = {"operator", "center"}
C = {"center"}
H = {"handler"}

# (state, action, outcome) -> (roles allowed, next state); every other combination is refused.
EXPECTED = {
    ("received", "answer_directly", None): (OPC, "answered_directly"),
    ("received", "dispatch", None): (C, "dispatched"),
    ("escalated", "dispatch", None): (C, "dispatched"),
    ("dispatched", "sign", None): (H, "in_progress"),
    ("in_progress", "sign", None): (H, STAY),  # a co-unit signs after the lead
    ("in_progress", "contact", None): (H, STAY),
    ("dispatched", "note", None): ({"handler", "center"}, STAY),
    ("in_progress", "note", None): ({"handler", "center"}, STAY),
    ("received", "note", None): (OPC, STAY),
    ("replied", "note", None): (OPC, STAY),
    ("escalated", "note", None): (OPC, STAY),
    ("in_progress", "co_reply", None): (H, STAY),
    ("in_progress", "reply", None): (H, "replied"),
    ("dispatched", "request_extension", None): (H, STAY),
    ("in_progress", "request_extension", None): (H, STAY),
    ("dispatched", "decide_extension", "approve"): (C, STAY),
    ("dispatched", "decide_extension", "refuse"): (C, STAY),
    ("in_progress", "decide_extension", "approve"): (C, STAY),
    ("in_progress", "decide_extension", "refuse"): (C, STAY),
    ("dispatched", "request_return", None): (H, STAY),
    ("in_progress", "request_return", None): (H, STAY),
    ("dispatched", "decide_return", "approve"): (C, "received"),
    ("dispatched", "decide_return", "refuse"): (C, STAY),
    ("in_progress", "decide_return", "approve"): (C, "received"),
    ("in_progress", "decide_return", "refuse"): (C, STAY),
    ("replied", "send_back", None): (C, "in_progress"),
    ("received", "escalate", None): (C, "escalated"),
    ("received", "reject", None): (C, "rejected"),
    ("escalated", "reject", None): (C, "rejected"),
    ("received", "transfer", None): (C, "transferred"),
    ("escalated", "transfer", None): (C, "transferred"),
    ("replied", "callback", "close"): (OPC, "closed"),
    ("replied", "callback", "reopen"): (OPC, "in_progress"),
    **{(s, "update", None): (OPC, STAY) for s in ("received", "dispatched", "in_progress", "replied", "escalated")},
}

OUTCOMES = {"decide_extension": ("approve", "refuse"), "decide_return": ("approve", "refuse"),
            "callback": ("close", "reopen")}


def expected(state, action, role, outcome):
    """('ok', next state) or the exception class the rules call for."""
    # a role that may never take this action is forbidden (403) whatever the state, so a leader is
    # always told "not your role"; a role that may, but not here or not now, gets a 409
    if not any(a == action and role in r for (_, a, _), (r, _) in EXPECTED.items()):
        return NotPermitted
    entry = EXPECTED.get((state, action, outcome))
    if entry is None or role not in entry[0]:
        return InvalidTransition
    return ("ok", state if entry[1] == STAY else entry[1])


CASES = [
    (state, action, role, outcome)
    for state in STATES
    for action in ACTIONS
    for role in ROLES
    for outcome in (None, *OUTCOMES.get(action, ()))
]


def test_the_expected_table_speaks_the_code_vocabulary():
    assert set(STATES) == {"received", "dispatched", "in_progress", "replied", "closed", "answered_directly",
                           "rejected", "transferred", "escalated"}
    for state, action, _ in EXPECTED:
        assert state in STATES and action in ACTIONS


@pytest.mark.parametrize("state,action,role,outcome", CASES)
def test_every_cell(state, action, role, outcome):
    want = expected(state, action, role, outcome)
    if isinstance(want, tuple):
        got = step(state, action, role, outcome)
        assert (got.action, got.outcome, got.to_state) == (action, outcome, want[1])
    else:
        with pytest.raises(want) as err:
            step(state, action, role, outcome)
        assert type(err.value) is want
        assert err.value.message  # a Chinese message for the user
        assert err.value.status == (409 if want is InvalidTransition else 403)


def test_table_and_code_have_the_same_rows():
    code = {k: (set(r), k[0] if to is None else to) for k, (r, to) in lifecycle.TABLE.items()}
    written = {k: (set(r), k[0] if to == STAY else to) for k, (r, to) in EXPECTED.items()}
    assert code == written


@pytest.mark.parametrize("role", ["leader", "admin"])
def test_leader_and_admin_never_act(role):
    assert all(allowed_actions(s, role) == set() for s in STATES)


@pytest.mark.parametrize("state", ["closed", "answered_directly", "rejected", "transferred"])
@pytest.mark.parametrize("role", ROLES)
def test_final_states_allow_nothing(state, role):
    assert allowed_actions(state, role) == set()


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("role", ROLES)
def test_allowed_actions_agree_with_step(state, role):
    def ok(action):
        for outcome in (None, *OUTCOMES.get(action, ())):
            try:
                step(state, action, role, outcome)
                return True
            except (InvalidTransition, NotPermitted):
                pass
        return False

    assert allowed_actions(state, role) == {a for a in ACTIONS if ok(a)}


@pytest.mark.parametrize("state,role,actions", [
    ("received", "operator", {"answer_directly", "note", "update"}),
    ("received", "center", {"answer_directly", "dispatch", "note", "escalate", "reject", "transfer", "update"}),
    ("dispatched", "handler", {"sign", "note", "request_extension", "request_return"}),
    ("in_progress", "handler", {"sign", "contact", "note", "co_reply", "reply", "request_extension",
                                "request_return"}),
    ("in_progress", "center", {"note", "decide_extension", "decide_return", "update"}),
    ("replied", "operator", {"callback", "note", "update"}),
    ("replied", "center", {"callback", "note", "send_back", "update"}),
    ("escalated", "center", {"dispatch", "note", "reject", "transfer", "update"}),
    ("replied", "handler", set()),
])
def test_buttons_per_state_and_role(state, role, actions):
    assert allowed_actions(state, role) == actions


@pytest.mark.parametrize("action,outcome", [
    ("decide_extension", None), ("decide_extension", "close"), ("callback", None), ("callback", "approve"),
    ("sign", "approve"),
])
def test_wrong_or_missing_outcome_is_refused(action, outcome):
    state = "replied" if action == "callback" else ("dispatched" if action == "sign" else "in_progress")
    role = "operator" if action == "callback" else ("handler" if action == "sign" else "center")
    with pytest.raises(InvalidTransition):
        step(state, action, role, outcome)


@pytest.mark.parametrize("action", ["fly", "", "DISPATCH"])
def test_unknown_action_is_refused(action):
    with pytest.raises(InvalidTransition):
        step("received", action, "center")


def test_intake_is_not_a_transition():
    for state in STATES:
        for role in ROLES:
            with pytest.raises((InvalidTransition, NotPermitted)):
                step(state, "intake", role)
