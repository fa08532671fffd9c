"""The shapes of the AI providers' answers, checked before anything reads them: a field of the
wrong type (a list where usage should be, text that is a number) is a clear `ProviderError`,
never an AttributeError deep in a stream. Unknown fields are ignored; missing ones default."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, NonNegativeInt, ValidationError

from core.errors import ProviderError

Shape = TypeVar("Shape", bound="Answer")


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def read(provider: str, shape: type[Shape], data: Any) -> Shape:
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        raise ProviderError(
            f"The AI provider ({provider}) sent an answer the studio cannot read "
            f"({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}). Nothing was saved; try again."
        ) from exc


# --- Anthropic Messages API ------------------------------------------------------------------------
class AnthropicUsage(Answer):
    input_tokens: NonNegativeInt = 0
    output_tokens: NonNegativeInt = 0


class AnthropicBlock(Answer):
    type: str = ""
    text: str = ""


class AnthropicMessage(Answer):
    content: list[AnthropicBlock] = []
    model: str | None = None
    usage: AnthropicUsage = AnthropicUsage()
    stop_reason: str | None = None


class AnthropicDelta(Answer):
    type: str = ""
    text: str = ""
    stop_reason: str | None = None


class AnthropicError(Answer):
    type: str = "error"


class AnthropicEvent(Answer):
    """Any streamed event; each kind fills the fields it has."""

    message: AnthropicMessage = AnthropicMessage()
    delta: AnthropicDelta = AnthropicDelta()
    usage: AnthropicUsage = AnthropicUsage()
    error: AnthropicError = AnthropicError()


# --- OpenAI-compatible chat completions (Mistral) ----------------------------------------------------
class ChatUsage(Answer):
    prompt_tokens: NonNegativeInt = 0
    completion_tokens: NonNegativeInt = 0


class ChatText(Answer):
    content: str | None = None


class ChatChoice(Answer):
    message: ChatText = ChatText()
    delta: ChatText = ChatText()
    finish_reason: str | None = None


class ChatCompletion(Answer):
    choices: list[ChatChoice] = []
    model: str | None = None
    usage: ChatUsage | None = None
