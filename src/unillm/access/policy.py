"""The access decision (SCHEMA.md, "Access decisions"): pure, no I/O, built once per snapshot and
called by the gateway for every request.

Order of precedence:

1. Explicit `model_permissions`, most specific subject first: user, then agent, then role, then tier.
   Within one subject level, when several permissions match the model: an exact `model_id` beats a
   glob, then a denial wins.
2. Otherwise the tier's `tier_model_rules`: the matching rule with the highest priority wins; at
   equal priority a denying rule wins.
3. Nothing matches: denied.

Limits of an allowing *permission*: a permission says nothing about quotas, so the daily quota and
context limit come from the tier's highest-priority matching *allowing* rule (even when a denying
rule of the tier would otherwise win: the permission overrides the denial, not the limits of the
tier's grant); when no allowing rule of the tier matches, the permission admits without limits.

Speed: permissions are indexed by (access_type, access_value), so 10,000 users cost one dict lookup;
each tier's rules are pre-sorted by (-priority, allowed) so the first match wins; the tier part of a
decision is memoized per (tier, model id) in a bounded dict that is cleared when full.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from unillm.access.glob import Matcher, compile_glob, is_glob

SUBJECT_ORDER = ("user", "agent", "role", "tier")
CACHE_LIMIT = 65_536


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    tier_code: str
    model_pattern: str
    allowed: bool
    max_requests_per_day: int | None
    max_context_length: int | None
    priority: int


@dataclass(frozen=True, slots=True)
class PermissionSpec:
    id: str
    model_id: str
    access_type: str  # user | agent | role | tier
    access_value: str
    allowed: bool


@dataclass(frozen=True, slots=True)
class Subject:
    user_id: str
    role: str
    tier_code: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class DecidingRule:
    kind: str  # "permission" | "tier_rule"
    id: str
    pattern: str
    priority: int | None
    access_type: str | None = None
    access_value: str | None = None

    def describe(self, tier_code: str) -> str:
        if self.kind == "tier_rule":
            return f"tier '{tier_code}' rule '{self.pattern}' (priority {self.priority})"
        return f"permission for {self.access_type} '{self.access_value}' on '{self.pattern}'"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    max_requests_per_day: int | None
    max_context_length: int | None
    rule: DecidingRule | None
    message: str
    # The tier rule whose limits apply (differs from `rule` when a permission admitted the request).
    limits_rule: DecidingRule | None = field(default=None, compare=False)

    @property
    def quota_key(self) -> str | None:
        """The id of the rule whose daily quota this request counts against; None when unlimited."""
        if not self.allowed or self.max_requests_per_day is None or self.limits_rule is None:
            return None
        return self.limits_rule.id

    @property
    def limits_source(self) -> str | None:
        """Names the rule the limits come from, for messages ("tier rule 'ollama/*'")."""
        if self.limits_rule is None:
            return None
        return f"tier rule '{self.limits_rule.pattern}'"


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    spec: RuleSpec
    matches: Matcher
    deciding: DecidingRule


@dataclass(frozen=True, slots=True)
class _TierOutcome:
    winner: _CompiledRule | None
    best_allowing: _CompiledRule | None


@dataclass(slots=True)
class _SubjectPermissions:
    """One subject's permissions: exact model ids in a dict, globs in a list (deny-first)."""

    exact: dict[str, PermissionSpec] = field(default_factory=dict)
    globs: list[tuple[Matcher, PermissionSpec]] = field(default_factory=list)

    def add(self, permission: PermissionSpec) -> None:
        if is_glob(permission.model_id):
            self.globs.append((compile_glob(permission.model_id), permission))
            return
        current = self.exact.get(permission.model_id)
        if current is None or (current.allowed and not permission.allowed):
            self.exact[permission.model_id] = permission

    def find(self, model_id: str) -> PermissionSpec | None:
        exact = self.exact.get(model_id)
        if exact is not None:
            return exact
        found: PermissionSpec | None = None
        for matches, permission in self.globs:
            if matches(model_id):
                if not permission.allowed:
                    return permission
                found = found or permission
        return found


def _rule_deciding(rule: RuleSpec) -> DecidingRule:
    return DecidingRule(kind="tier_rule", id=rule.id, pattern=rule.model_pattern, priority=rule.priority)


def _permission_deciding(permission: PermissionSpec) -> DecidingRule:
    return DecidingRule(kind="permission", id=permission.id, pattern=permission.model_id, priority=None,
                        access_type=permission.access_type, access_value=permission.access_value)


class AccessPolicy:
    """An immutable set of rules and permissions with a memo of tier decisions."""

    __slots__ = ("_cache", "_permissions", "_rules")

    def __init__(self, rules: dict[str, tuple[_CompiledRule, ...]],
                 permissions: dict[tuple[str, str], _SubjectPermissions]) -> None:
        self._rules = rules
        self._permissions = permissions
        self._cache: dict[tuple[str, str], _TierOutcome] = {}

    @classmethod
    def build(cls, rules: Iterable[RuleSpec], permissions: Iterable[PermissionSpec]) -> AccessPolicy:
        by_tier: dict[str, list[RuleSpec]] = {}
        for rule in rules:
            by_tier.setdefault(rule.tier_code, []).append(rule)
        compiled = {
            tier: tuple(_CompiledRule(spec=r, matches=compile_glob(r.model_pattern),
                                      deciding=_rule_deciding(r))
                        for r in sorted(specs, key=lambda r: (-r.priority, r.allowed, r.model_pattern)))
            for tier, specs in by_tier.items()
        }
        indexed: dict[tuple[str, str], _SubjectPermissions] = {}
        for permission in permissions:
            indexed.setdefault((permission.access_type, permission.access_value), _SubjectPermissions()).add(
                permission)
        for holder in indexed.values():
            holder.globs.sort(key=lambda item: item[1].allowed)
        return cls(compiled, indexed)

    @property
    def rule_count(self) -> int:
        return sum(len(rules) for rules in self._rules.values())

    def tiers(self) -> list[str]:
        return sorted(self._rules)

    def decide(self, subject: Subject, model_id: str) -> Decision:
        tier = subject.tier_code
        if self._permissions:
            permission = self._find_permission(subject, model_id)
            if permission is not None:
                return self._permission_decision(permission, tier, model_id)
        outcome = self._tier_outcome(tier, model_id)
        winner = outcome.winner
        if winner is None:
            return Decision(allowed=False, max_requests_per_day=None, max_context_length=None, rule=None,
                            message=f"no rule or permission of tier '{tier}' matches {model_id}")
        spec = winner.spec
        verb = "allows" if spec.allowed else "denies"
        message = f"{winner.deciding.describe(tier)} {verb} {model_id}"
        if not spec.allowed:
            return Decision(allowed=False, max_requests_per_day=None, max_context_length=None,
                            rule=winner.deciding, message=message)
        return Decision(allowed=True, max_requests_per_day=spec.max_requests_per_day,
                        max_context_length=spec.max_context_length, rule=winner.deciding, message=message,
                        limits_rule=winner.deciding)

    def _find_permission(self, subject: Subject, model_id: str) -> PermissionSpec | None:
        for access_type, access_value in (("user", subject.user_id), ("agent", subject.agent_id),
                                          ("role", subject.role), ("tier", subject.tier_code)):
            if access_value is None:
                continue
            holder = self._permissions.get((access_type, access_value))
            if holder is not None:
                found = holder.find(model_id)
                if found is not None:
                    return found
        return None

    def _permission_decision(self, permission: PermissionSpec, tier: str, model_id: str) -> Decision:
        deciding = _permission_deciding(permission)
        if not permission.allowed:
            return Decision(allowed=False, max_requests_per_day=None, max_context_length=None,
                            rule=deciding, message=f"{deciding.describe(tier)} denies {model_id}")
        limits = self._tier_outcome(tier, model_id).best_allowing
        message = f"{deciding.describe(tier)} allows {model_id}"
        if limits is None:
            return Decision(allowed=True, max_requests_per_day=None, max_context_length=None, rule=deciding,
                            message=message + " (no allowing tier rule matches: no limits)")
        return Decision(allowed=True, max_requests_per_day=limits.spec.max_requests_per_day,
                        max_context_length=limits.spec.max_context_length, rule=deciding,
                        message=f"{message} (limits of {limits.deciding.describe(tier)})",
                        limits_rule=limits.deciding)

    def _tier_outcome(self, tier: str, model_id: str) -> _TierOutcome:
        key = (tier, model_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        winner: _CompiledRule | None = None
        best_allowing: _CompiledRule | None = None
        for rule in self._rules.get(tier, ()):
            if rule.matches(model_id):
                if winner is None:
                    winner = rule
                if rule.spec.allowed:
                    best_allowing = rule
                    break
        outcome = _TierOutcome(winner=winner, best_allowing=best_allowing)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = outcome
        return outcome
