"""`Advisor`: runs the rules over a window and keeps their findings in order of severity.

Users add rules (`add_rule`) and silence them by id (`silence`). A rule that raises is
skipped and named in the notes: one broken rule never hides the others' findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tui_perf.advice.rules import Rule, builtin_rules
from tui_perf.advice.settings import AdviceSettings
from tui_perf.advice.window import Window
from tui_perf.model.advice import Finding, severity_rank
from tui_perf.model.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Advice:
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()


class Advisor:
    def __init__(
        self, rules: Iterable[Rule] | None = None, settings: AdviceSettings | None = None
    ) -> None:
        self.settings = settings or AdviceSettings()
        self.rules: list[Rule] = list(rules) if rules is not None else builtin_rules(self.settings)
        self.silenced: set[str] = set()

    def add_rule(self, rule: Rule) -> None:
        if not rule.id:
            raise ConfigError(f"{type(rule).__name__}: a rule needs an id")
        if any(r.id == rule.id for r in self.rules):
            raise ConfigError(f"a rule with id {rule.id!r} is there already")
        self.rules.append(rule)

    def silence(self, rule_id: str) -> None:
        if not any(r.id == rule_id for r in self.rules):
            raise ConfigError(f"no rule with id {rule_id!r}; one of {', '.join(self.ids())}")
        self.silenced.add(rule_id)

    def unsilence(self, rule_id: str) -> None:
        self.silenced.discard(rule_id)

    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def check(self, window: Window) -> Advice:
        findings: list[Finding] = []
        notes: list[str] = []
        if not window.snapshots:
            return Advice((), ("no snapshots yet",))
        for rule in self.rules:
            if rule.id in self.silenced:
                continue
            try:
                result = rule.check(window)
                if result is None:
                    continue
                found = [result] if isinstance(result, Finding) else list(result)
            except Exception as e:  # a user's rule: named, never fatal to the others
                notes.append(f"rule {rule.id} failed: {type(e).__name__}: {e}")
                continue
            findings += [f for f in found if isinstance(f, Finding)]
        findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule, f.subject))
        return Advice(tuple(findings), tuple(notes))
