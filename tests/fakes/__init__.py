"""Fake upstream servers for tests: real aiohttp apps on 127.0.0.1, started in-process."""

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.llamacpp import FakeLlamaCpp
from tests.fakes.lmstudio import FakeLMStudio
from tests.fakes.local_base import FakeLocalServer, FakeModel
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.sse_tools import Behavior
from tests.fakes.vllm import FakeVLLM

__all__ = ["FakeLMStudio", "FakeLlamaCpp", "FakeLocalServer", "FakeModel", "FakeOllama", "FakeVLLM"]
__all__ += ["Behavior", "FakeAnthropic", "FakeOpenAI"]
