"""The repeat-appeal rules (一人多次 / 一事多人) as pure functions: text, place, windows, thresholds, links."""
from datetime import timedelta

import pytest
from conftest import at

from app.domain import repeats as r
from app.domain.repeats import Appeal, Relations, Rules, pair

RULES = Rules()  # 5 calls / 30 days, 5 people / 72 hours
T0 = at("2026-03-02 09:00")
VILLAGE, OTHER_VILLAGE, TOWN, OTHER_TOWN = "539901102201", "539901102202", "539901102", "539901103"
PIPE = "村委会门口的自来水管爆了，水一直往外冒，路都淹了，请赶快来修。"
PIPE_WORDS = [
    "村委会门口水管爆裂了，水不停地往外冒，路面全是水。",
    "喂你好，我们村委会旁边的自来水管子爆开了，一直在冒水，整条路成了河，麻烦派人来修一下。",
    "村委会门口那里水管爆了，路都淹了，到现在没人来管。",
    "你好，村委会门口的水管破了在冒水，赶紧来处理吧。",
    "村委会门口水管爆裂，一直冒水，路上全是水。",
]


def call(n: int, *, hours: float = 0, days: float = 0, phone: str = "13800000001", text: str = PIPE,
         category: str = "0202", territory: str = VILLAGE, township: str = TOWN, anonymous: bool = False,
         id_number: str = "") -> Appeal:
    return Appeal(id=n, received_at=T0 + timedelta(days=days, hours=hours), phone=phone, id_number=id_number,
                  anonymous=anonymous, territory_code=territory, township_code=township, category_code=category,
                  title="水管爆裂", content=text, number=f"T-{n}")


def villagers(hours: list[float], phones: list[str] | None = None) -> list[Appeal]:
    phones = phones or [f"1390000000{i}" for i in range(len(hours))]
    return [call(i + 1, hours=h, phone=p, text=PIPE_WORDS[i % len(PIPE_WORDS)]) for i, (h, p) in enumerate(zip(hours, phones))]


@pytest.mark.parametrize("raw, norm", [
    ("你好，我想反映一下：水管爆了！！", "水管爆"),
    ("ＡＢＣ１２３　水管", "abc123水管"),  # full-width letters, digits and space
    ("喂？？12345吗…… 路灯不亮。", "路灯不亮"),
    ("", ""),
])
def test_normalize_text(raw, norm):
    assert r.normalize_text(raw) == norm


@pytest.mark.parametrize("a, b, same", [
    (PIPE, "村委会门口水管爆裂了，水不停地往外冒，路面全是水。", True),
    (PIPE, "喂你好，我们村委会旁边的自来水管子爆开了，一直在冒水，整条路成了河。", True),
    (PIPE, "三组路边的水管接头漏了一个星期，慢慢地渗，家里水压小得很。", False),
    ("张老板的砖厂欠了我八千多块工资，电话也不接。", "锦绣花园工地的包工头拖欠我们十几个人三个月工钱。", False),
])
def test_similarity_separates_same_event_from_other_matters(a, b, same):
    score = r.similarity(call(1, text=a), call(2, text=b))
    assert (score >= RULES.similarity) is same, score


@pytest.mark.parametrize("ta, tsa, tb, tsb, same", [
    (VILLAGE, TOWN, VILLAGE, TOWN, True),
    (VILLAGE, TOWN, OTHER_VILLAGE, TOWN, False),      # next village: another place
    (TOWN, TOWN, VILLAGE, TOWN, True),                # filed at township level, in that township
    (VILLAGE, TOWN, TOWN, TOWN, True),
    (OTHER_TOWN, OTHER_TOWN, VILLAGE, TOWN, False),   # township level of another township
])
def test_same_place(ta, tsa, tb, tsb, same):
    assert r.same_place(call(1, territory=ta, township=tsa), call(2, territory=tb, township=tsb)) is same


# ---- 一人多次: (days of the earlier calls, day of this call) -> (count, tripped) ----
@pytest.mark.parametrize("earlier, now_day, count, tripped", [
    ([0, 1, 2], 3, 4, False),          # the 4th call does not trip
    ([0, 1, 2, 3], 4, 5, True),        # the 5th does
    ([0, 1, 2, 3], 30, 5, True),       # day 30 is still inside the rolling 30 days
    ([0, 1, 2, 3], 31, 4, False),      # day 31 is not: the first call has left the window
    ([0, 10, 20, 29], 30, 5, True),
    ([0, 0.5, 1, 1.5, 2, 2.5], 3, 7, True),
])
def test_repeat_caller_threshold_and_window(earlier, now_day, count, tripped):
    calls = [call(i + 1, days=d) for i, d in enumerate(earlier)]
    f = r.evaluate_rule("repeat_caller", call(99, days=now_day), calls, RULES)
    assert (f.count, f.tripped) == (count, tripped)
    assert f.remaining == max(5 - count, 0)
    assert (len(f.members) >= 5) is tripped


def test_repeat_caller_counts_only_the_same_matter():
    other = [call(i + 1, days=i, category="0104", text="村里太阳能路灯坏了一大半，晚上黑黢黢的。") for i in range(2)]
    same = [call(10 + i, days=i) for i in range(2)]
    f = r.evaluate_rule("repeat_caller", call(99, days=3), other + same, RULES)
    assert f.count == 3 and not f.tripped
    assert {a.id for a in f.group} == {10, 11, 99}


def test_repeat_caller_needs_the_same_caller_by_phone_or_id_number():
    calls = [call(1, phone="13800000001"), call(2, phone="13911112222", id_number="53010219900101123X", days=1),
             call(3, phone="13700000000", days=2)]
    me = call(99, days=3, phone="13800000001", id_number="53010219900101123x")
    f = r.evaluate_rule("repeat_caller", me, calls, RULES)
    assert {a.id for a in f.group} == {1, 2, 99}


@pytest.mark.parametrize("who", ["this call", "earlier calls"])
def test_anonymous_callers_never_make_a_repeat_caller_group(who):
    calls = [call(i + 1, days=i, anonymous=who == "earlier calls") for i in range(6)]
    f = r.evaluate_rule("repeat_caller", call(99, days=6, anonymous=who == "this call"), calls, RULES)
    assert not f.tripped and f.count == 1


# ---- 一事多人: (hours of the calls, phones) -> (distinct callers, tripped) ----
@pytest.mark.parametrize("hours, phones, callers, tripped", [
    ([0, 1, 2, 3], None, 4, False),
    ([0, 1, 2, 3, 4], None, 5, True),
    ([0, 1, 2, 3, 72], None, 5, True),   # hour 72 is inside the rolling 72 hours
    ([0, 1, 2, 3, 73], None, 4, False),  # hour 73 is not
    ([0, 1, 2, 3, 4], ["139a", "139b", "139c", "139d", "139a"], 4, False),  # 5 calls from 4 people
    ([0, 1, 2, 3, 4, 5], ["139a", "139b", "139c", "139d", "139a", "139e"], 5, True),
])
def test_mass_event_threshold_window_and_distinct_callers(hours, phones, callers, tripped):
    appeals = villagers(hours, phones)
    f = r.evaluate_rule("mass_event", appeals[-1], appeals[:-1], RULES)
    assert (f.callers, f.tripped) == (callers, tripped)


def test_mass_event_ignores_other_villages_and_categories():
    appeals = villagers([0, 1, 2, 3])
    next_door = call(50, hours=1, phone="13600000000", territory=OTHER_VILLAGE)
    other_kind = call(51, hours=1, phone="13600000001", category="0201")
    f = r.evaluate_rule("mass_event", call(99, hours=4, phone="13600000002"), appeals + [next_door, other_kind], RULES)
    assert f.callers == 5 and 50 not in {a.id for a in f.group} and 51 not in {a.id for a in f.group}


def test_anonymous_calls_without_a_number_each_count_as_one_person():
    appeals = [call(i + 1, hours=i, phone="", anonymous=True, text=PIPE_WORDS[i]) for i in range(5)]
    assert r.evaluate_rule("mass_event", appeals[-1], appeals[:-1], RULES).tripped


def test_people_decide_over_the_text():
    appeals = villagers([0, 1, 2, 3])
    odd = call(98, hours=2, phone="13600000009", category="0201", text="停水三天了。")
    me = call(99, hours=4, phone="13600000008")
    rel = Relations(linked={pair(99, 98)}, detached={pair(99, n) for n in (1, 2, 3, 4)} | {pair(98, n) for n in (1, 2, 3, 4)})
    f = r.evaluate_rule("mass_event", me, appeals + [odd], RULES, rel)
    assert {a.id for a in f.group} == {98, 99} and not f.tripped


def test_an_existing_item_holds_its_group_together():
    appeals = villagers([0, 1, 2, 3])
    unlike = call(4, hours=3.5, phone="13600000007", text="管子破了。")
    rel = Relations(groups={"mass_event": [{1, 2, 3, 4}]})
    f = r.evaluate_rule("mass_event", call(99, hours=4, phone="13600000008"), appeals[:3] + [unlike], RULES, rel)
    assert 4 in {a.id for a in f.group}


def test_group_is_connected_not_only_similar_to_the_new_call():
    a = call(1, text="村委会门口水管爆了，水冲起老高。", phone="1")
    b = call(2, hours=1, text="村委会门口水管爆了，水冲起老高，路都淹了，好几户没水用。", phone="2")
    c = call(3, hours=2, text="路都淹了，好几户没水用，下面的田也被冲了。", phone="3")
    group = r.group_of("mass_event", a, [b, c], RULES, Relations())
    assert [x.id for x in group] == [1, 2, 3]


def test_warning_texts():
    calls = [call(i + 1, days=i) for i in range(3)]
    f = r.evaluate_rule("repeat_caller", call(99, days=3), calls, RULES)
    assert r.warning(f, RULES) == "30天内第4次反映同一事项，再1次将纳入重点督办"
    appeals = villagers([0, 1, 2])
    f = r.evaluate_rule("mass_event", appeals[-1], appeals[:-1], RULES)
    assert r.warning(f, RULES) == "72小时内已有3人反映同一事件（含本次来电），再有2人反映将纳入重点督办"


def test_best_window_and_components():
    appeals = villagers([0, 1, 2, 80, 81])
    assert r.best_window("mass_event", appeals, RULES) == 3
    wage = call(9, hours=1, phone="9", category="0202", text="张老板的砖厂欠了我八千多块工资。")
    parts = r.components("mass_event", appeals[:3] + [wage], RULES, Relations())
    assert [[a.id for a in p] for p in parts] == [[1, 2, 3], [9]]
