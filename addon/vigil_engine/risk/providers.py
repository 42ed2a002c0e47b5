"""LLM providers: any OpenAI-compatible server, and Ollama's native API.

Both ask for structured output constrained by the answer schema. The OpenAI
flavour tries ``json_schema`` first and falls back to ``json_object`` with the
schema for servers that only accept that form (remembered per provider).
API keys come from an environment variable and are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..config import LLMConfig
from .model import LLM_SCHEMA, InvalidAnswer, validate_answer

_LOGGER = logging.getLogger(__name__)


class ProviderError(Exception):
    """The server could not be reached or refused the request (worth retrying later)."""


@dataclass(frozen=True)
class LLMAnswer:
    data: dict[str, Any]
    raw: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    model: str


def _parse(raw: str) -> dict[str, Any]:
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidAnswer(f"answer is not JSON ({err.msg})") from None
    return validate_answer(data)


class Provider:
    name = "base"

    def __init__(self, cfg: LLMConfig) -> None:
        self.cfg = cfg
        self._session: aiohttp.ClientSession | None = None

    @property
    def model(self) -> str:
        return self.cfg.model

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.cfg.api_key_env:
            key = os.environ.get(self.cfg.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
        return headers

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, url: str, body: dict[str, Any]) -> tuple[int, str]:
        session = await self.session()
        try:
            async with session.post(url, json=body, headers=self._headers()) as resp:
                return resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise ProviderError(f"{type(err).__name__}: {err}".strip(": ")) from None

    async def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        raise NotImplementedError


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, cfg: LLMConfig) -> None:
        super().__init__(cfg)
        self._format = "json_schema"

    def _messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for m in messages:
            image = m.get("image_b64")
            if image and self.cfg.vision:
                out.append({"role": m["role"], "content": [
                    {"type": "text", "text": m["content"]},
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{image}"}},
                ]})
            else:
                out.append({"role": m["role"], "content": m["content"]})
        return out

    def _response_format(self) -> dict[str, Any]:
        if self._format == "json_schema":
            return {"type": "json_schema", "json_schema": {
                "name": "risk_assessment", "strict": True, "schema": LLM_SCHEMA}}
        return {"type": "json_object", "schema": LLM_SCHEMA}

    async def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        started = time.perf_counter()
        for _ in range(2):
            body = {"model": self.cfg.model, "messages": self._messages(messages),
                    "temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens,
                    "response_format": self._response_format()}
            status, text = await self._post(url, body)
            if status == 400 and self._format == "json_schema" and "response_format" in text:
                _LOGGER.info("%s rejects json_schema output; using json_object + schema",
                             self.cfg.base_url)
                self._format = "json_object"
                continue
            break
        latency = (time.perf_counter() - started) * 1000
        if status >= 500 or status in (408, 429):
            raise ProviderError(f"HTTP {status} from {self.cfg.base_url}")
        if status != 200:
            raise ProviderError(f"HTTP {status}: {text[:200]}")
        try:
            payload = json.loads(text)
            raw = payload["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise InvalidAnswer("server answer has no choices[0].message.content") from None
        usage = payload.get("usage") or {}
        answer = LLMAnswer(data={}, raw=raw, latency_ms=latency,
                           prompt_tokens=int(usage.get("prompt_tokens") or 0),
                           completion_tokens=int(usage.get("completion_tokens") or 0),
                           model=str(payload.get("model") or self.cfg.model))
        return _with_data(answer, raw)


class OllamaProvider(Provider):
    name = "ollama"

    async def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        url = self.cfg.base_url.rstrip("/") + "/api/chat"
        msgs = []
        for m in messages:
            item = {"role": m["role"], "content": m["content"]}
            if m.get("image_b64") and self.cfg.vision:
                item["images"] = [m["image_b64"]]
            msgs.append(item)
        body = {"model": self.cfg.model, "messages": msgs, "stream": False,
                "format": LLM_SCHEMA, "keep_alive": self.cfg.keep_alive,
                "options": {"temperature": self.cfg.temperature,
                            "num_predict": self.cfg.max_tokens}}
        started = time.perf_counter()
        status, text = await self._post(url, body)
        latency = (time.perf_counter() - started) * 1000
        if status != 200:
            raise ProviderError(f"HTTP {status}: {text[:200]}")
        try:
            payload = json.loads(text)
            raw = payload["message"]["content"] or ""
        except (ValueError, KeyError, TypeError):
            raise InvalidAnswer("server answer has no message.content") from None
        answer = LLMAnswer(data={}, raw=raw, latency_ms=latency,
                           prompt_tokens=int(payload.get("prompt_eval_count") or 0),
                           completion_tokens=int(payload.get("eval_count") or 0),
                           model=str(payload.get("model") or self.cfg.model))
        return _with_data(answer, raw)


def _with_data(answer: LLMAnswer, raw: str) -> LLMAnswer:
    """Parse and validate; an InvalidAnswer carries the raw text for the audit."""
    try:
        data = _parse(raw)
    except InvalidAnswer as err:
        err.raw = raw  # type: ignore[attr-defined]
        err.usage = (answer.prompt_tokens, answer.completion_tokens)  # type: ignore[attr-defined]
        raise
    return LLMAnswer(data, raw, answer.latency_ms, answer.prompt_tokens,
                     answer.completion_tokens, answer.model)


def make_provider(name: str, cfg: LLMConfig) -> Provider:
    return OpenAIProvider(cfg) if name == "openai" else OllamaProvider(cfg)
