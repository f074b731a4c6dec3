"""Which district unit a message is about.

Evidence, scanned in one pass (longest alias wins, so 国税局 is one mention and 工商银行 is
a bank, not 工商局): strong aliases (1.0), weak short forms like 住建/环保 (0.7, only in
lists or before 说/那边), services (0.6: 办房产证 → 区不动产登记中心). The first mention gets a
bonus; a mention right after 让我去/跑到/转到 is where the citizen was sent, not the unit
at fault, and a mention near 最慢/卡在 is the one at fault. A township followed directly by
a unit (横山镇林业站) is a place, not the unit. A bare list of three or more units with
nothing pointing at one of them gives no unit.

Real letters name units in passing, and those mentions must not outvote the matter's own
unit: a unit addressed as the reader (请纪委领导关注, 尊敬的纪委领导) weighs like a unit
the citizen was sent to (×0.3, no first-mention bonus); one used as a landmark (国税局门口的
红绿灯, 管委会大楼) weighs ×0.3 but keeps the bonus, so a lone one still wins
(民政局门口公告栏上什么都没有). Neither halves the services. A village matter (村级道路, 组民,
村干部 …) whose only evidence is a bureau's service gives no unit: such matters are the
township's, and which of our townships cannot be told unless it is named.

Conventions of the dev set, which labels the unit a story is about: in a hand-off chain where
units answer in turn (A说归B，B说…) the first to speak; a township the writer lives or works in
(我是洋口镇的村民, 我在横山镇开了一家店) is a place when a bureau is named beside it; a bureau's
window inside the centre (住建窗口, 公积金窗口) is that bureau's; a queue-number screen is the
centre's. A message that is no complaint names no township it only mentions as a place.
"""

from __future__ import annotations

import re
from collections import defaultdict

from keywords.matcher import PhraseMatcher
from keywords.rules import Rules

STRONG, WEAK, SERVICE = 1.0, 0.7, 0.6
WEIGHT = {"alias": STRONG, "weak": WEAK, "service": SERVICE}
FIRST_BONUS = 1.0
FAULT_BONUS = 2.0
CHAIN_BONUS = 1.5
SPEAKS_SOON = re.compile(r"[^,。!?、]{0,3}说")  # 横山镇镇里说, 洋口镇的人说
CHAIN_SAYS = ("说", "那边说", "的人说", "又说", "却说", "让找", "让我找", "推给", "推到")
LISTED = 0.4  # a unit only named in an enumeration (住建、消防、环保)
LIST_MARKS = ("、", "和")  # 住建、消防、环保 / 住建和环保
GONE_TO = ("去", "找", "到", "在")  # 去街道反映, 找住建, 卡在住建: a short name used as a unit
CENTRE = "区行政服务中心"
TOWN_CENTRE = "便民服务中心"
TOWN_OFFICES = ("政府", "中心", "办", "办事处")  # the township's office, not its territory
VILLAGE_NAME = re.compile(r"[^\W说讲的是在农乡]{1,3}村")  # 横山镇枫林村: a village of the township
OWN_WINDOW = ("窗口", "的窗口", "的办事窗口", "的受理窗口", "的工作人员")
WEAK_CONTEXT = ("说", "那边", "这边", "的人", "部门", "那里", "审", "批", "来查", "来检查", "又说",
                "又来", "执法", "窗口", "的窗口", "的意见", "盖章", "要等", "等")


class UnitPicker:
    def __init__(self, rules: Rules):
        m = PhraseMatcher()
        kinds = {}
        for u in rules.units.all():
            kinds[u.name] = u.kind
            for a in {u.name, *u.aliases}:
                m.add(a.lower(), ("alias", u.name))
            for a in u.weak:
                m.add(a.lower(), ("weak", u.name))
        for s, unit in rules.services.items():
            m.add(s, ("service", unit))
        for name in ("nongov", "blockers", "sent_to", "fault"):
            for w in rules.cues[name]:
                m.add(w, (name, w))
        # village cues are looked for only when a bureau was picked on services alone
        self.village = re.compile("|".join(map(re.escape, rules.cues["village"])))
        # addressee cues (尊敬的, 请求, 请 …) are looked for only just before a named unit, not
        # scanned for: they open most letters, and a one-character cue would need a token pass
        self.addr_chars = "".join(w for w in rules.cues["addressed"] if len(w) == 1)
        words = [w for w in rules.cues["addressed"] if len(w) > 1]
        self.addr_rx = re.compile("|".join(map(re.escape, words))) if words else None
        self.sent_window = int(rules.settings.get("sent_to.window", 3))
        self.addr_span = max(map(len, words), default=0) + self.sent_window
        self.matcher = m.compile()
        self.landmark = tuple(rules.cues["landmark"])  # words right after a unit: 门口, 大楼 …
        self.residence = tuple(rules.cues["residence"])  # after a township: 居民, 开了一家 …
        self.kinds = kinds
        self.fault_window = int(rules.settings.get("fault.window", 6))

    @staticmethod
    def _first(live: list, landmark: set) -> tuple[int, int] | None:
        """The mention that gets the first-mention bonus: named before weak before service,
        a landmark (税务局旁边那个派出所) only when nothing else is named."""
        for wants, skip in ((("alias", "weak"), landmark), (("alias", "weak", "service"), ())):
            for want in wants:
                for s, e, _text, role, _unit, sent, listed in live:
                    if role == want and not sent and not listed and (s, e) not in skip:
                        return (s, e)
        return None

    @staticmethod
    def _chain_opener(norm: str, live: list) -> tuple[int, int] | None:
        """A hand-off story (A说归B，B说…): when two units speak, the one that speaks first
        (by position, a short name included: 民政说归残联) is what the story is about."""
        speakers = [(s, e, u) for s, e, _t, role, u, sent, listed in live
                    if role in ("alias", "weak") and not sent and not listed
                    and (norm.startswith(CHAIN_SAYS, e) or SPEAKS_SOON.match(norm, e))]
        if len({u for _s, _e, u in speakers}) < 2:
            return None
        s, e, _u = min(speakers)
        return (s, e)

    def pick(self, norm: str, tokens: list[str]) -> dict:
        hits = self.matcher.find(norm, tokens)
        mentions = []  # (start, end, text, role, unit)
        sent_ends, faults, nongov = [], [], []
        for h in hits:
            role, p = h.roles[0]
            if role in ("alias", "weak", "service"):
                mentions.append([h.start, h.end, h.text, role, p])
            elif role == "sent_to":
                sent_ends.append(h.end)
            elif role == "fault":
                faults.append((h.start, h.end))
            elif role == "nongov":
                nongov.append(h.text)
        # overlapping mentions (横山镇政府|政府办): the earlier, already longest one stands;
        # a township directly followed by another unit is just where that unit sits
        for a, b in zip(mentions, mentions[1:], strict=False):
            if b[0] < a[1]:
                b[3] = "place"
            elif (a[2].endswith(TOWN_CENTRE) and b[0] - a[1] <= 1 and b[3] != "service"
                    and (b[2].endswith("窗口") or norm.startswith(OWN_WINDOW, b[1]))):
                b[3] = "place"  # 洋口镇便民服务中心(的)社保窗口: the township's own window
            elif (self.kinds.get(a[4]) == "township" and b[0] - a[1] <= 1 and b[3] == "alias"
                    and self.kinds.get(b[4]) != "township" and a[3] != "place"):
                a[3] = "place"
        mentions = [m for m in mentions if m[3] != "place"]
        # a unit named as a landmark or as the letter's addressee is named only in passing
        landmark, addressed = set(), set()
        for s, e, _t, role, _u in mentions:
            if role == "service":
                continue
            if norm.startswith(self.landmark, e):
                landmark.add((s, e))
            if s > 0 and (norm[s - 1] in self.addr_chars or self.addr_rx is not None and any(
                    s - m.end() <= self.sent_window
                    for m in self.addr_rx.finditer(norm, max(0, s - self.addr_span), s))):
                addressed.add((s, e))
        bureaus = {u for _s, _e, _t, role, u in mentions
                   if role == "alias" and self.kinds.get(u) != "township"}
        for s, e, text, role, unit in mentions:
            if (bureaus and role == "alias" and self.kinds.get(unit) == "township"
                    and not text.endswith(TOWN_OFFICES)
                    and (norm.startswith(self.residence, e) or VILLAGE_NAME.match(norm, e))):
                addressed.add((s, e))  # 我是永丰街道的居民, 到区市场监管局…: where they live
        passing = landmark | addressed
        has_named = any(m[3] == "alias" and (m[0], m[1]) not in passing for m in mentions)
        scores: dict[str, float] = defaultdict(float)
        roles: dict[str, set] = defaultdict(set)
        words: dict[str, list[str]] = defaultdict(list)
        live = []
        own_window = set()  # 自然资源局的窗口: a unit's own window (inside the centre)
        window = self.sent_window
        for s, e, text, role, unit in mentions:
            if text.endswith("窗口") or norm.startswith(OWN_WINDOW, e):  # 住建窗口, 公积金窗口
                own_window.add(unit)
            if role == "service":
                listed = False
            else:
                listed = norm[s - 1:s] in LIST_MARKS or norm[e:e + 1] in LIST_MARKS
                if (role == "weak" and not listed and not norm.startswith(WEAK_CONTEXT, e)
                        and norm[s - 1:s] not in GONE_TO):
                    continue  # 交通, 规划, 农业 … are common nouns unless used like a unit name
            sent = (s, e) in addressed or any(0 <= s - se <= window for se in sent_ends)
            live.append((s, e, text, role, unit, sent, listed))
        first = self._first(live, landmark)
        in_person = set()  # units named other than as a place, an addressee or where sent
        opener = self._chain_opener(norm, live)
        for s, e, text, role, unit, sent, listed in live:
            w = WEIGHT[role]
            if sent or (s, e) in landmark:
                w *= 0.3  # a landmark keeps the first-mention bonus: 教育局门口的接待室
            elif listed:
                w = LISTED
            elif role == "service" and has_named:
                w *= 0.5  # a named unit beats an implied one
            if (s, e) == first:
                w += FIRST_BONUS
            if (s, e) == opener:
                w += CHAIN_BONUS
            if faults and any(fs - self.fault_window <= e and s <= fe + self.fault_window
                              for fs, fe in faults):
                w += FAULT_BONUS
                roles[unit].add("fault")
            if not (sent or (s, e) in landmark):
                in_person.add(unit)
            scores[unit] += w
            roles[unit].add("sent" if sent else "listed" if listed else role)
            words[unit].append(text)
        named = any(r in ("alias", "weak") for rs in roles.values() for r in rs)
        named_units = {u for u, rs in roles.items() if rs & {"alias", "weak", "listed"}}
        at_fault = {u for u, rs in roles.items() if "fault" in rs}
        unit = None
        township = False  # a village matter whose bureau was dropped: the township's
        if scores:
            ranked = sorted(scores, key=lambda u: -scores[u])
            unit = ranked[0]
            rs = roles[unit]
            listed = [u for u in scores if roles[u] <= {"listed", "sent"}]
            if rs <= {"listed", "sent"} and len(listed) >= 3:
                unit = None  # a bare list of units, none singled out
            elif unit == CENTRE and not at_fault:
                # the service centre is where the windows are: 中心里自然资源局的窗口 is
                # about 自然资源局, so a unit named with its own window wins
                others = [u for u in ranked[1:] if u in own_window]
                if others:
                    unit = others[0]
            if (unit is not None and roles[unit] <= {"service"}
                    and self.kinds.get(unit) != "township"
                    and self.village.search(norm)):
                unit, township = None, True  # a village matter: the township's, not the bureau's
        # a township named only as where the citizen lives or where something happened
        place_only = self.kinds.get(unit) == "township" and unit not in in_person
        return {"unit": unit, "words": words.get(unit, []) if unit else [],
                "place_only": place_only,
                "named": named, "nongov": nongov, "named_units": named_units,
                "at_fault": at_fault, "township": township}
