"""The compiled classifier for one set of rules: one jieba pass, two phrase scans, a decision.

Why the steps are as they are:
- negation: a complaint word right after 没有/并不/… (same clause) is not evidence (没有刁难);
- contrast: words after 但是/可是/结果 weigh more, so praise-then-complaint ends as a complaint;
- NONE wins only when its cues (greetings, thanks, how-to, look-ups, praise) outweigh the
  complaint evidence, or for spam, or when the only body blamed is not a government one;
- complaint shape: too few keywords alone does not make NONE when the message names an
  official actor (a unit, a service, 窗口/工作人员/干部 …) *and* carries a negative cue
  (time passing, no reply, refusal, scolding, empty posts, buck-passing …) from the
  [shape.*] lists, unless NONE cues are present; the kind then comes from the keyword
  scores plus those cues. Real complaints without a listed keyword used to fall to NONE;
- several units and no culprit (S5/S6 hand-offs) may name no unit (`[shape] multi_unit_none`);
  off by default, because the dev set labels the first-named unit in such stories;
- fitted weights (fitted.toml, when present) give every kind a probability from the short
  strings of the text; the rules' kind gets its confidence added (a NONE for lack of
  evidence only `weak_bonus`), and the larger sum wins. Listed words decide when they are
  sure; the fitted strings decide when the writer's words are not on any list. Spam stays
  NONE whatever the weights say; letters longer than `max_chars`, and decisions the rules
  are `sure` of (confidence at or above it), are the rules' alone.
  The weights turn a rules NONE into a complaint only for a message of `min_chars` or more
  that names a unit, a township or an official actor, as the complaint-shape rule does:
  answers such as 昨天上午 or 3号窗口 arriving outside a question, and grumbles about
  neighbours, stay NONE. For a D or P result, the sub-type is the fitted one within that
  kind, with `subtype_bonus` added for the rules' sub-type.
"""

from __future__ import annotations

import math
from collections import defaultdict

import jieba

from keywords.fitted import softmax
from keywords.matcher import Hit, PhraseMatcher
from keywords.normalize import normalise
from keywords.rules import Rules, kind_of
from keywords.unitpick import UnitPicker

COMPLAINT_KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P")
KIND_ORDER = (*COMPLAINT_KINDS, "NONE")  # ties go to the earlier kind
MIN_SCORE = 1.5  # below this much evidence a message is not treated as a complaint
LONG = 40  # characters; in longer messages greetings and thanks are politeness, not the point
SHAPE_NONE_MAX = 1.0  # NONE cues at or above this keep a weak message NONE (请问, 谢谢 …)
SHAPE_MIN = 1.0  # keyword score + shape cues the chosen kind needs
SHAPE_MAX_LEN = 160  # longer letters collect incidental dates and questions: keywords only
MULTI_UNIT_KINDS = ("S5", "S6")  # stories about hand-offs between units


def min_score(length: int) -> float:
    """Evidence needed for a complaint: long letters collect incidental words (拖了 …)."""
    return MIN_SCORE + (0.5 if length > 80 else 0.0) + (0.5 if length > 200 else 0.0)


DELEGATED_TO_TOWNSHIP = "P2"


class Engine:
    """Immutable once built; `run(text)` returns the raw decision for the Classifier."""

    def __init__(self, rules: Rules):
        self.rules = rules
        s = rules.settings
        self.neg_window = int(s.get("negation.window", 4))
        self.praise_weight = s.get("praise.weight", 1.0)
        self.contrast_weight = s.get("contrast.after_weight", 1.5)
        self.spam_weight = s.get("spam.weight", 3.0)
        km = PhraseMatcher()
        for t in rules.terms:
            km.add(t.text, ("kw", t))
        for t in rules.none_cues:
            km.add(t.text, ("none", t))
        for name in ("negation", "rhetorical", "praise", "contrast", "spam"):
            for w in rules.cues[name]:
                km.add(w, (name, w))
        self.kind_matcher = km.compile()
        self.units = UnitPicker(rules)
        # actors and generic cues are scanned apart from the kind cues, so that 别的部门 inside
        # 问别的部门, or 了半个月 inside a whole …吗 clause, still counts
        sm, am, gm = PhraseMatcher(), PhraseMatcher(), PhraseMatcher()
        for key, words in rules.cues.items():
            if key.startswith("shape.") and key not in ("shape.actors", "shape.generic"):
                for w in words:
                    sm.add(w, key[6:])
        for w in rules.cues.get("shape.actors", []):
            am.add(w, "actors")
        for w in rules.cues.get("shape.generic", []):
            gm.add(w, "generic")
        self.shape_matcher = sm.compile() if rules.cues.get("shape.actors") else None
        self.actor_matcher = am.compile()
        self.generic_matcher = gm.compile()
        self.shape_none_max = s.get("shape.none_max", SHAPE_NONE_MAX)
        # off: the dev set labels the first-named (lead) unit in S5/S6 hand-off stories
        self.multi_unit_none = bool(s.get("shape.multi_unit_none", 0.0))
        self.fitted = rules.fitted

    def words(self) -> set[str]:
        """Literal words worth adding to jieba's dictionary so they segment whole."""
        out = {t.text for t in self.rules.terms if not t.is_pattern and 2 <= len(t.text) <= 8}
        for u in self.rules.units.all():
            out.update(a for a in (u.name, *u.aliases, *u.weak) if len(a) >= 2)
        out.update(s for s in self.rules.services if len(s) >= 2)
        out.update(w for w in self.rules.cues["nongov"] if len(w) >= 2)
        return out

    def run(self, text: str) -> dict:
        norm = normalise(text)
        # HMM off: every domain word is in the dictionary, new-word guessing adds nothing here
        tokens = jieba.lcut(norm, HMM=False) if norm else []
        hits = self.kind_matcher.find(norm, tokens)
        ev = self._evidence(norm, hits)
        unit = self.units.pick(norm, tokens)
        ev["tokens"] = tokens
        result = self._decide(ev, unit)
        reason = result.pop("reason")
        fitted = self.fitted
        if fitted is not None and reason != "spam" and len(ev["norm"]) <= fitted.max_chars:
            blend = result["confidence"] < fitted.sure
            if blend or result["kind"] in ("D", "P"):  # else the weights could change nothing
                score, present = fitted.scores(ev["norm"])
                if blend:
                    result = self._blend(result, reason, ev, unit, score, present)
                if result["kind"] in ("D", "P"):
                    result = self._fitted_subtype(result, score, present)
        return self._delegated_to_township(result, unit)

    def _delegated_to_township(self, result: dict, unit: dict) -> dict:
        """A power delegated to a township and not taken up (P2) is the township's failure,
        even when the bureau that delegated it is named first (区人社局说下放到镇里了，可是
        洋口镇说只能收材料): the dev set's convention."""
        if result["subtype"] != DELEGATED_TO_TOWNSHIP:
            return result
        kinds = self.units.kinds
        towns = [u for u in unit["named_units"] if kinds.get(u) == "township"]
        if len(towns) != 1 or kinds.get(result["unit"]) == "township":
            return result
        return {**result, "unit": towns[0]}

    def _evidence(self, norm: str, hits: list[Hit]) -> dict:
        neg_ends: list[int] = []
        contrast_at = -1
        scores: dict[str, float] = defaultdict(float)
        words: dict[str, list[str]] = defaultdict(list)
        sub: dict[str, float] = defaultdict(float)
        none = 0.0
        none_words: list[str] = []
        praise: list[tuple[int, str]] = []
        spam: list[str] = []
        last_kw_end = -1
        for h in hits:
            for role, p in h.roles:
                if role == "negation":
                    neg_ends.append(h.end)
                elif role == "contrast":
                    contrast_at = h.end
                elif role == "spam":
                    spam.append(h.text)
                elif role == "praise":
                    if not self._negated(norm, h.start, neg_ends):
                        praise.append((h.start, h.text))
                elif role == "none":
                    none += p.weight
                    none_words.append(h.text)
                elif role == "kw":
                    if self._negated(norm, h.start, neg_ends):
                        continue
                    w = p.weight * (self.contrast_weight if 0 <= contrast_at <= h.start else 1.0)
                    k = kind_of(p.section)
                    scores[k] += w
                    words[k].append(h.text)
                    if p.section != k or p.section in ("D", "P"):
                        sub[p.section] += w
                    last_kw_end = max(last_kw_end, h.end)
        # praise only counts against complaints that it follows, not ones that follow it
        for pos, w in praise:
            if last_kw_end < 0 or pos > last_kw_end or contrast_at < 0:
                none += self.praise_weight
                none_words.append(w)
        return {"scores": scores, "words": words, "sub": sub, "none": none,
                "none_words": none_words, "spam": spam, "norm": norm}

    def _negated(self, norm: str, start: int, neg_ends: list[int]) -> bool:
        for e in reversed(neg_ends):
            if e > start:
                continue
            return start - e <= self.neg_window and "," not in norm[e:start]
        return False

    def _decide(self, ev: dict, unit: dict) -> dict:
        scores: dict[str, float] = ev["scores"]
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], COMPLAINT_KINDS.index(kv[0])))
        top, top_score = ranked[0] if ranked else ("NONE", 0.0)
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        none = ev["none"] * (1.0 if len(ev["norm"]) <= LONG else 0.5)  # politeness in letters
        reason = None
        if ev["spam"] and (len(ev["norm"]) <= SHAPE_MAX_LEN or len(set(ev["spam"])) > 1):
            reason = "spam"  # one spam cue in a long letter (a cited link) is in passing
        elif top_score < min_score(len(ev["norm"])):
            reason = "weak"
        elif none > top_score:
            reason = "none-cues"
        elif unit["nongov"] and unit["unit"] is None and not unit["township"]:
            reason = "nongov"  # (a village matter is the township's even with no unit named)
        if reason == "weak" and (shaped := self._shape(ev, unit)):
            top, top_score, shape_words = shaped
            scores = dict(scores)
            scores[top] = top_score
            ranked = sorted(scores.items(), key=lambda kv: (-kv[1], COMPLAINT_KINDS.index(kv[0])))
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            ev["words"] = defaultdict(list, ev["words"])
            ev["words"][top] = ev["words"][top] + shape_words
            reason = None
        if reason:
            return self._none(ev, unit, reason, top_score)
        also = tuple(k for k, v in ranked[1:3] if v >= max(2.5, 0.45 * top_score))
        subtype = self._subtype(ev, top)
        u = self._unit(unit, top)
        conf = (1 - math.exp(-top_score / 2.5)) * (0.55 + 0.45 * (top_score - second) / top_score)
        conf *= 1 - min(0.5, none / (top_score + none + 1e-9) * 0.5)
        matched = tuple(dict.fromkeys(ev["words"][top] + [w for k in also for w in ev["words"][k]]
                                      + unit["words"]))
        return {"kind": top, "subtype": subtype, "unit": u,
                "confidence": round(max(0.05, min(0.99, conf)), 3), "matched": matched,
                "also": also, "reason": None}

    @staticmethod
    def _subtype(ev: dict, kind: str) -> str | None:
        if kind not in ("D", "P"):
            return None
        subs = {k: v for k, v in ev["sub"].items() if k != kind and k[0] == kind}
        return max(sorted(subs), key=lambda k: subs[k]) if subs else None

    def _unit(self, unit: dict, kind: str) -> str | None:
        if (self.multi_unit_none and kind in MULTI_UNIT_KINDS and len(unit["named_units"]) >= 2
                and not unit["at_fault"]):
            return None  # hand-offs between several units, none singled out
        return unit["unit"]

    @staticmethod
    def _none_unit(unit: dict) -> str | None:
        """A message that is no complaint names a township only when it is about the
        township's office (横山镇便民服务中心的小伙子…谢谢), not when the township is just
        where something happened (横山镇的油菜花开了, 狗在永丰街道附近走丢了)."""
        return None if unit["place_only"] else unit["unit"]

    def _fitted_subtype(self, result: dict, score: dict, present: frozenset) -> dict:
        """A D/P result's sub-type from the weights, leaning to the rules' (`subtype_bonus`)."""
        subtype = self.fitted.subtype(score, result["kind"], result["subtype"])
        if subtype == result["subtype"]:
            return result
        learned = self.fitted.evidence(present, subtype)
        return {**result, "subtype": subtype,
                "matched": tuple(dict.fromkeys([*result["matched"], *learned]))}

    def _blend(self, result: dict, reason: str | None, ev: dict, unit: dict, score: dict,
               present: frozenset) -> dict:
        """The rules' decision, unless the fitted probabilities outweigh its confidence."""
        fitted = self.fitted
        probs = softmax({k: score[k] for k in KIND_ORDER})
        kind = result["kind"]
        blended = dict(probs)
        sure = fitted.weak_bonus if reason == "weak" else result["confidence"]
        blended[kind] += fitted.rules_weight * sure
        best = min(blended, key=lambda k: (-blended[k], KIND_ORDER.index(k)))
        if best == kind:
            return result
        if kind == "NONE" and (len(ev["norm"]) < fitted.min_chars
                               or not self._official(ev, unit)):
            return result  # a fragment (昨天上午, 3号窗口), or a grumble about life, not a service
        conf = round(max(0.05, min(0.99, blended[best] / sum(blended.values()))), 3)
        learned = fitted.evidence(present, best)
        if best == "NONE":
            u = self._none_unit(unit)
            matched = learned + ev["none_words"] + (unit["words"] if u else [])
            return {"kind": "NONE", "subtype": None, "unit": u, "confidence": conf,
                    "matched": tuple(dict.fromkeys(matched)), "also": ()}
        matched = ev["words"].get(best, []) + learned + unit["words"]
        return {"kind": best, "subtype": self._subtype(ev, best), "unit": self._unit(unit, best),
                "confidence": conf, "matched": tuple(dict.fromkeys(matched)),
                "also": (kind,) if kind != "NONE" else ()}

    def _official(self, ev: dict, unit: dict) -> bool:
        """The message names a unit, a township or an official actor (窗口, 工作人员 …)."""
        return bool(unit["unit"] or unit["named_units"] or unit["township"]
                    or self.actor_matcher.find(ev["norm"], ev["tokens"]))

    def _shape(self, ev: dict, unit: dict) -> tuple[str, float, list[str]] | None:
        """A weak message shaped like a complaint: (kind, score, cue words), else None."""
        if (self.shape_matcher is None or ev["none"] >= self.shape_none_max
                or len(ev["norm"]) > SHAPE_MAX_LEN):
            return None
        if unit["nongov"] and unit["unit"] is None and not unit["township"]:
            return None
        if unit["unit"] is None and not self.actor_matcher.find(ev["norm"], ev["tokens"]):
            return None  # no official actor: a grumble about life, not about a service
        hits = self.shape_matcher.find(ev["norm"], ev["tokens"])  # after: it has more patterns
        hits += self.generic_matcher.find(ev["norm"], ev["tokens"])
        if not hits:
            return None
        extra: dict[str, float] = defaultdict(float)
        words: dict[str, list[str]] = defaultdict(list)
        generic = []
        for h in hits:
            key = h.roles[0]
            if key == "generic":
                generic.append(h.text)
            else:
                extra[key] += 1.0
                words[kind_of(key)].append(h.text)
                if key[0] in "DP":
                    ev["sub"][key] += 1.0
        if not extra and not generic:
            return None
        total = dict(ev["scores"])
        for key, w in extra.items():
            total[kind_of(key)] = total.get(kind_of(key), 0.0) + w
        if not total:
            return None
        top = min(total, key=lambda k: (-total[k], COMPLAINT_KINDS.index(k)))
        if total[top] < SHAPE_MIN:
            return None
        return top, total[top], words[top] + generic

    def _none(self, ev: dict, unit: dict, reason: str, top_score: float) -> dict:
        if reason == "spam":
            return {"kind": "NONE", "subtype": None, "unit": None, "confidence": 0.95,
                    "matched": tuple(dict.fromkeys(ev["spam"])), "also": (), "reason": reason}
        none = ev["none"]
        words = list(ev["none_words"])
        u = self._none_unit(unit)
        if reason == "nongov":
            words += unit["nongov"]
            u = None
            conf = 0.7
        elif none > 0:
            conf = (1 - math.exp(-none / 1.5)) * (1 - 0.5 * min(1.0, top_score / (none + 1e-9)))
        else:
            conf = 0.5 - min(0.3, top_score / 5)
        matched = tuple(dict.fromkeys(words + (unit["words"] if u else [])))
        return {"kind": "NONE", "subtype": None, "unit": u,
                "confidence": round(max(0.05, min(0.99, conf)), 3), "matched": matched, "also": (),
                "reason": reason}
