"""What was said on a call, line by line, as the caller actually heard it.

Agent lines arrive whole (``agent_response``) before they are spoken; when the caller
barges in, the agent service sends a correction cut down to what was said by then,
and the line is replaced so the transcript reads like the conversation did.
"""

from __future__ import annotations

CONTEXT_LINES = 30


class Transcript(list[tuple[str, str]]):
    """``(role, text)`` pairs, ``role`` being ``agent`` or ``caller``."""

    def correct(self, original: str, corrected: str) -> bool:
        """Replace the latest agent line equal to ``original``; False if none is."""
        for i in range(len(self) - 1, -1, -1):
            role, text = self[i]
            if role == "agent" and text == original:
                self[i] = ("agent", corrected)
                return True
        return False

    def as_context(self) -> str:
        """The last lines, for an agent that must pick the conversation up again."""
        lines = "\n".join(f"{role}: {text}" for role, text in self[-CONTEXT_LINES:])
        return lines or "(nothing said yet)"
