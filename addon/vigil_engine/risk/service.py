"""Risk scoring service: fast rules assessment on open, LLM assessment in the background.

An alert never waits for an LLM: the rules assessment is attached the moment an
event opens. The LLM (if configured) is asked once per event — when it closes,
or once more while it runs past ``batch_window`` — through durable jobs, a
concurrency limit, a circuit breaker and a daily budget. Whenever the LLM
cannot answer, the event carries a rules assessment marked ``fallback``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import ARM_MODES, CameraConfig, Config
from ..events.bus import EventBus
from ..store.db import Store
from . import rules
from .alerts import decide, earlier_alert_sql
from .context import ContextBuilder, RiskContext
from .escalation import escalation_of
from .jobs import Job, JobQueue, queue_final
from .model import LEVEL_RANK, assessment, level_for
from .prompt import PROMPT_VERSION, build_messages
from .providers import InvalidAnswer, Provider, ProviderError, make_provider

_LOGGER = logging.getLogger(__name__)


HARD_ACTIVITIES = ("loitering", "intrusion")
GUARDED_MODES = ("away", "night", "vacation")
FLOOR_SCORE = 60  # the lowest "high" score


def hold_hard_facts(llm: dict[str, Any], base: dict[str, Any],
                    ctx: RiskContext) -> dict[str, Any]:
    """An LLM may refine the rules but not erase hard facts.

    While the house is armed away (or night/vacation) or it is dark, a loitering or
    intrusion found by the rules keeps the event at ``high`` or above, whatever a
    model (or text shown to it in a snapshot) says; the reasoning names the rule."""
    guarded = ctx.arm_mode in GUARDED_MODES or ctx.is_night
    if (base["activity_type"] not in HARD_ACTIVITIES or not guarded
            or LEVEL_RANK[llm["risk_level"]] >= LEVEL_RANK["high"]):
        return llm
    when = f"armed {ctx.arm_mode}" if ctx.arm_mode in GUARDED_MODES else "at night"
    held = dict(base, provider=llm["provider"], model=llm["model"],
                latency_ms=llm["latency_ms"], status=llm["status"],
                **{k: llm[k] for k in ("prompt_version", "tokens", "scope") if k in llm})
    held.update(risk_score=FLOOR_SCORE, risk_level=level_for(FLOOR_SCORE),
                held_by_rule=True)
    held["reasoning"] = (
        f"Rule held: {base['activity_type']} {when} stays high or above "
        f"({base['summary'].rstrip('.')}). The model said {llm['risk_score']} "
        f"({llm['activity_type']}): {llm['reasoning']}")[:900]
    return held


class CircuitBreaker:
    """Stop calling a dead server; after a cool-down let one probe through."""

    def __init__(self, failures: int, cooldown: float) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.failures = 0
        self.open_until = 0.0
        self.probing = False
        self.opened = 0

    @property
    def state(self) -> str:
        if self.failures < self.threshold:
            return "closed"
        return "half_open" if time.time() >= self.open_until else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.probing = False

    def failure(self) -> None:
        self.failures += 1
        self.probing = False
        if self.failures >= self.threshold:
            if time.time() >= self.open_until:
                self.opened += 1
            self.open_until = time.time() + self.cooldown


class RiskStats:
    def __init__(self) -> None:
        self.llm_calls = 0
        self.llm_errors = 0
        self.llm_invalid = 0
        self.llm_latency_ms = 0.0
        self.fallbacks = 0
        self.budget_fallbacks = 0
        self.fast_assessments = 0
        self.fast_ms = 0.0
        self.prompt_tokens = 0
        self.completion_tokens = 0


class RiskService:
    def __init__(self, config: Config, store: Store, bus: EventBus,
                 snapshot_path: Any = None) -> None:
        self.config = config
        self.cfg = config.risk
        self.store = store
        self.bus = bus
        self.builder = ContextBuilder(config, store)
        # Own cameras plus cameras other sources (Frigate) register as they appear.
        self.cameras: dict[str, CameraConfig] = dict(config.cameras)
        self.jobs = JobQueue(store)
        llm = self.cfg.llm
        self.provider: Provider | None = (make_provider(self.cfg.provider, llm)
                                          if llm is not None else None)
        self.circuit = CircuitBreaker(self.cfg.circuit_failures, self.cfg.circuit_cooldown)
        self.stats = RiskStats()
        self._snapshot_path = snapshot_path  # (camera, event_id) -> Path
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None

    @property
    def uses_llm(self) -> bool:
        return self.provider is not None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        recovered = await asyncio.to_thread(self.jobs.recover_sync)
        if recovered:
            _LOGGER.info("resuming %d scoring job(s) interrupted by the last stop", recovered)
        if self.uses_llm:
            self._worker = asyncio.create_task(self._work(), name="risk-worker")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await asyncio.to_thread(self.jobs.recover_sync)  # running -> pending for next start
        if self.provider is not None:
            await self.provider.close()

    # ------------------------------------------------------------------ arm mode

    async def get_mode(self) -> str:
        return await self.builder.arm_mode()

    async def set_mode(self, mode: str) -> str:
        if mode not in ARM_MODES:
            raise ValueError(f"mode must be one of {', '.join(ARM_MODES)}")
        await self.store.write(lambda c: c.execute(
            "INSERT INTO meta (key, value) VALUES ('arm_mode', ?) ON CONFLICT(key) DO UPDATE "
            "SET value = excluded.value", (mode,)))
        return mode

    # ------------------------------------------------------------------ fast path

    async def fast(self, camera: CameraConfig, event: dict[str, Any]
                   ) -> tuple[dict[str, Any], bool, str]:
        """Rules assessment + alert decision, used as the event opens and changes."""
        started = time.perf_counter()
        ctx = await self.builder.build(camera, event)
        risk = rules.score(camera, ctx, status="pending" if self.uses_llm else "final")
        alert, reason = await self._alert(camera, event, risk)
        ms = (time.perf_counter() - started) * 1000
        self.stats.fast_assessments += 1
        self.stats.fast_ms = ms if self.stats.fast_assessments == 1 else (
            self.stats.fast_ms * 0.9 + ms * 0.1)
        return risk, alert, reason

    async def assess_now(self, camera: CameraConfig, event: dict[str, Any]) -> dict[str, Any]:
        """Score a moment on demand: the LLM when it answers in time, else rules."""
        ctx = await self.builder.build(camera, event)
        if self.provider is None or self.circuit.state == "open" or await self._budget_spent():
            return rules.score(camera, ctx, status="final" if self.provider is None
                               else "fallback")
        try:
            answer = await asyncio.wait_for(self.provider.complete(build_messages(ctx)),
                                            self.provider.cfg.timeout)
        except (InvalidAnswer, ProviderError, TimeoutError) as err:
            return rules.score(camera, ctx, status="fallback", note=f"LLM: {err}")
        await self._record_usage(answer.prompt_tokens, answer.completion_tokens)
        return hold_hard_facts(assessment(
            score=answer.data["risk_score"], activity=answer.data["activity_type"],
            summary=answer.data["summary"], reasoning=answer.data["reasoning"],
            entities=rules.entities(ctx), provider=self.provider.name, model=answer.model,
            latency_ms=answer.latency_ms, status="final", prompt_version=PROMPT_VERSION),
            rules.score(camera, ctx), ctx)

    async def _alert(self, camera: CameraConfig, event: dict[str, Any],
                     risk: dict[str, Any]) -> tuple[bool, str]:
        earlier = await self.store.read(lambda c: earlier_alert_sql(
            c, camera.name, event["id"], risk["activity_type"], float(event["start_time"]),
            camera.alerts.cooldown_minutes))
        local: datetime = self.builder.local(float(event["start_time"]))
        return decide(camera, risk, local, earlier)

    # ------------------------------------------------------------------ jobs

    def closing_job(self, event_id: str) -> Any:
        """The SQL step that queues a closing event's final scoring (in its transaction)."""
        if not self.uses_llm:
            return None
        return lambda c: queue_final(c, event_id)

    async def event_closed(self, event_id: str) -> None:
        """The closing row has queued the job already; wake the worker."""
        if not self.uses_llm:
            return
        if self.circuit.state != "closed":
            # The LLM is known to be down (or a probe is still out): fall back now rather
            # than show 'pending' for a probe's whole timeout; rescore when it returns.
            await self._fallback(event_id, "LLM unavailable; scored by rules, will rescore")
        self._wake.set()

    async def queue_closed(self, event_id: str) -> None:
        """For sources that close events outside the events transaction (Frigate):
        queue the same durable final job, then wake the worker. Idempotent."""
        if self.uses_llm:
            await self.jobs.enqueue(event_id, "final")
            await self.event_closed(event_id)

    async def event_long(self, event_id: str) -> None:
        if self.uses_llm:
            await self.jobs.enqueue(event_id, "intermediate")
            self._wake.set()

    async def rescore(self, event_id: str) -> dict[str, Any]:
        """Queue a fresh assessment (also revives dead-letter jobs)."""
        if not self.uses_llm:
            event = await self.store.get_event(event_id)
            camera = self.cameras.get(event["camera"]) if event else None
            if event is not None and camera is not None:
                risk, alert, reason = await self.fast(camera, event)
                await self._store(event_id, risk, alert, reason)
            return {"event_id": event_id, "status": "done", "provider": "rules"}
        await self.jobs.enqueue(event_id, "final", reset=True)
        self._wake.set()
        return (await self.jobs.get(event_id)) or {"event_id": event_id, "status": "pending"}

    async def _store(self, event_id: str, risk: dict[str, Any], alert: bool,
                     reason: str, *, intermediate: bool = False) -> None:
        updated, escalated = await self.store.set_risk(
            event_id, risk, alert, reason, escalate=escalation_of, intermediate=intermediate)
        if updated is not None:
            updated.pop("updated_at", None)
            self.bus.publish("update", updated)
            if escalated:
                self.bus.publish("escalate", updated)

    async def _fallback(self, event_id: str, note: str, *, budget: bool = False) -> None:
        event = await self.store.get_event(event_id)
        camera = self.cameras.get(event["camera"]) if event else None
        if event is None or camera is None:
            return
        current = event.get("risk") or {}
        if current.get("provider") not in (None, "rules"):
            return  # an earlier LLM assessment is better than rules
        ctx = await self.builder.build(camera, event)
        risk = rules.score(camera, ctx, status="fallback", note=note)
        alert, reason = await self._alert(camera, event, risk)
        self.stats.fallbacks += 1
        self.stats.budget_fallbacks += int(budget)
        await self._store(event_id, risk, alert, reason)

    # ------------------------------------------------------------------ worker

    async def _work(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            free = self.cfg.max_concurrency - len(self._running)
            if free <= 0 or not self.circuit.allow():
                continue
            probing = self.circuit.probing
            try:
                claimed = await self.jobs.claim_due(1 if probing else free)
            except Exception:
                _LOGGER.exception("cannot read scoring jobs")
                claimed = []
            if not claimed and probing:
                self.circuit.probing = False  # nothing to probe with; try again later
            for job in claimed:
                task = asyncio.create_task(self._run(job), name=f"risk-{job.event_id}")
                self._running.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("scoring job crashed", exc_info=task.exception())
        self._wake.set()

    async def _budget_spent(self) -> bool:
        day = self.builder.local(time.time()).strftime("%Y-%m-%d")
        row = await self.store.read(lambda c: c.execute(
            "SELECT calls, prompt_tokens + completion_tokens FROM llm_usage WHERE day = ?",
            (day,)).fetchone())
        calls, tokens = row if row else (0, 0)
        return calls >= self.cfg.calls_per_day or tokens >= self.cfg.tokens_per_day

    async def _record_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        day = self.builder.local(time.time()).strftime("%Y-%m-%d")
        self.stats.prompt_tokens += prompt_tokens
        self.stats.completion_tokens += completion_tokens
        await self.store.write(lambda c: c.execute(
            "INSERT INTO llm_usage (day, calls, prompt_tokens, completion_tokens) "
            "VALUES (?, 1, ?, ?) ON CONFLICT(day) DO UPDATE SET calls = calls + 1, "
            "prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
            "completion_tokens = completion_tokens + excluded.completion_tokens",
            (day, prompt_tokens, completion_tokens)))

    async def _audit(self, event_id: str, messages: list[dict[str, Any]], raw: str | None,
                     error: str | None, tokens: tuple[int, int], latency_ms: float,
                     model: str) -> None:
        if not self.cfg.audit or self.provider is None:
            return
        prompt = json.dumps([{k: v for k, v in m.items() if k != "image_b64"}
                             for m in messages], ensure_ascii=False)
        provider = self.provider.name
        await self.store.write(lambda c: c.execute(
            "INSERT INTO risk_audit (event_id, created_at, provider, model, prompt_version, "
            "prompt, raw, error, prompt_tokens, completion_tokens, latency_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, time.time(), provider, model, PROMPT_VERSION, prompt, raw, error,
             tokens[0], tokens[1], latency_ms)))

    def _image(self, event: dict[str, Any]) -> str | None:
        llm = self.cfg.llm
        if llm is None or not llm.vision or self._snapshot_path is None:
            return None
        path: Path = self._snapshot_path(event["camera"], event["id"])
        try:
            return base64.b64encode(path.read_bytes()).decode()
        except OSError:
            return None

    async def _run(self, job: Job) -> None:
        assert self.provider is not None
        event = await self.store.get_event(job.event_id)
        camera = self.cameras.get(event["camera"]) if event else None
        if event is None or camera is None:
            await self.jobs.finish(job)
            return
        if await self._budget_spent():
            self.circuit.probing = False
            await self._fallback(job.event_id, "daily LLM budget spent; scored by rules",
                                 budget=True)
            await self.jobs.finish(job)
            return
        ctx = await self.builder.build(camera, event)
        image = await asyncio.to_thread(self._image, event)
        messages = build_messages(ctx, image)
        model = self.provider.model
        for attempt in (1, 2):
            try:
                answer = await self.provider.complete(messages)
            except InvalidAnswer as err:
                self.stats.llm_calls += 1
                self.stats.llm_invalid += 1
                usage = getattr(err, "usage", (0, 0))
                await self._record_usage(*usage)
                await self._audit(job.event_id, messages, getattr(err, "raw", None), str(err),
                                  usage, 0.0, model)
                if attempt == 1:
                    continue  # a broken answer is retried once
                self.circuit.success()  # the server answers; the answers are the problem
                await self._fallback(job.event_id, f"LLM answer invalid twice ({err})")
                await self.jobs.finish(job)
                return
            except ProviderError as err:
                self.stats.llm_errors += 1
                self.circuit.failure()
                await self._audit(job.event_id, messages, None, str(err), (0, 0), 0.0, model)
                await self._fallback(job.event_id, "LLM unavailable; scored by rules, "
                                     "will rescore")
                delay = min(self.cfg.retry_seconds * 2 ** job.attempts, 3600.0)
                status = await self.jobs.retry(job, str(err), delay, self.cfg.max_attempts)
                _LOGGER.warning("LLM scoring of %s failed (%s); %s", job.event_id, err,
                                "dead-lettered" if status == "dead" else f"retry in {delay:.0f} s")
                return
            break
        self.circuit.success()
        self.stats.llm_calls += 1
        self.stats.llm_latency_ms = answer.latency_ms if self.stats.llm_calls == 1 else (
            self.stats.llm_latency_ms * 0.8 + answer.latency_ms * 0.2)
        await self._record_usage(answer.prompt_tokens, answer.completion_tokens)
        await self._audit(job.event_id, messages, answer.raw, None,
                          (answer.prompt_tokens, answer.completion_tokens), answer.latency_ms,
                          answer.model)
        risk = assessment(
            score=answer.data["risk_score"], activity=answer.data["activity_type"],
            summary=answer.data["summary"], reasoning=answer.data["reasoning"],
            entities=rules.entities(ctx), provider=self.provider.name, model=answer.model,
            latency_ms=answer.latency_ms, status="final", prompt_version=PROMPT_VERSION,
            tokens={"prompt": answer.prompt_tokens, "completion": answer.completion_tokens},
            scope="intermediate" if job.kind == "intermediate" else "event")
        risk = hold_hard_facts(risk, rules.score(camera, ctx), ctx)
        alert, reason = await self._alert(camera, event, risk)
        await self._store(job.event_id, risk, alert, reason,
                          intermediate=job.kind == "intermediate")
        await self.jobs.finish(job)

    async def status(self) -> dict[str, Any]:
        s = self.stats
        day = self.builder.local(time.time()).strftime("%Y-%m-%d")
        row = await self.store.read(lambda c: c.execute(
            "SELECT calls, prompt_tokens, completion_tokens FROM llm_usage WHERE day = ?",
            (day,)).fetchone())
        calls, ptok, ctok = row if row else (0, 0, 0)
        return {
            "provider": self.cfg.provider,
            "model": self.provider.model if self.provider else rules.MODEL,
            "arm_mode": await self.get_mode(),
            "circuit": self.circuit.state,
            "jobs": await self.jobs.counts(),
            "budget": {"day": day, "calls": calls, "calls_per_day": self.cfg.calls_per_day,
                       "tokens": ptok + ctok, "tokens_per_day": self.cfg.tokens_per_day},
            "stats": {"llm_calls": s.llm_calls, "llm_errors": s.llm_errors,
                      "llm_invalid": s.llm_invalid, "llm_latency_ms": round(s.llm_latency_ms, 1),
                      "fallbacks": s.fallbacks, "budget_fallbacks": s.budget_fallbacks,
                      "fast_assessments": s.fast_assessments, "fast_ms": round(s.fast_ms, 2),
                      "prompt_tokens": s.prompt_tokens,
                      "completion_tokens": s.completion_tokens},
        }
