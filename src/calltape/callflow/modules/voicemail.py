"""``voicemail``: leave a message in a box (``compose``, the default) or listen to a box's messages (``check``).

compose: the box's greeting (its ``media.unavailable``, or a spoken default naming the box) — ``*`` during it
logs in to the box (Kazoo's login), ``0`` goes to the account's operator (its callflow for 0) — a beep,
then the caller is recorded until they hang up, press ``#``, stay silent for ``silence_seconds`` or
reach the box's ``max_message_length``. ``#`` opens Kazoo's review: 1 save, 2 listen, 3 record again. A message
shorter than ``min_message_length`` is not kept; a full box says so and records nothing. A caller
who hangs up mid-message still leaves it.

check: the PIN by DTMF (three tries, then goodbye; none for the box's owner on its own phone, Kazoo's
``check_if_owner``, unless ``require_pin``), then Kazoo's keys: the main menu (the counts of new and saved
messages; 1 new, 2 saved, 5 settings, # goodbye), each message newest first with its date and caller (1 keep,
2 replay, 3 forward to another box of the account, 4 previous, 6 next, 7 delete), and the settings menu
(1 record the unavailable greeting, 2 record the name, 3 change the PIN, 4 record a temporary greeting, which
plays instead of the other until 5 deletes it, 0 back to the main menu).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from calltape.callflow.call_api import CallContext, CallEndedError, Keys, Playback, Recorder
from calltape.callflow.module import Branch, Jump, Module, ModuleData, register
from calltape.media.formats import CONTENT_TYPES, format_of
from calltape.recording.caller_recorder import Recorded
from calltape.recording.spool import wav_to_mp3_file


class VoicemailCall(CallContext, Playback, Keys, Recorder, Protocol):
    """What this module uses of a call."""


log = logging.getLogger(__name__)

Box = dict[str, Any]
PIN_TRIES = 3
DEFAULT_MAX_MESSAGES = 100  # Kazoo's MAILBOX_DEFAULT_SIZE
MENU_TRIES = 3  # unknown keys in a row before a menu gives up
GREETINGS = {"1": "unavailable", "2": "name", "4": "temporary_unavailable"}  # settings key → what is recorded
GREETING_SECONDS = 300.0
GREETING_SILENCE = 5.0
MIN_PIN, MAX_PIN = 4, 10  # the vmbox schema's pin
MENU_TIMEOUT = 5.0
KEY_AFTER_GREETING = 0.2  # seconds a key may still come after each greeting prompt


class VoicemailData(ModuleData):
    """Kazoo's ``voicemail`` data (plus the silence that ends a message)."""

    id: str | None = None
    action: Literal["compose", "check"] = "compose"
    silence_seconds: float = Field(10, gt=0, le=600)


async def run(call: VoicemailCall, data: VoicemailData) -> Branch:
    """Leave or check messages; the call ends after (the flow's children do not run)."""
    if data.action == "check":
        await _check(call, data)
        return None
    return await _compose(call, data)


# ---- leaving a message ------------------------------------------------------------------------


async def _compose(call: VoicemailCall, data: VoicemailData) -> Branch:
    box = await call.mailboxes.box(call.account_id, data.id) if data.id else None
    if box is None:
        log.warning("call-id %s: voicemail box %s not found", call.call_id, data.id)
        await call.say("This mailbox is not available.")
        return None
    counts = await call.mailboxes.counts(call.account_id, box["id"])
    limit = int(box.get("max_message_count", DEFAULT_MAX_MESSAGES))
    if 0 < limit <= counts["new"] + counts["saved"]:  # Kazoo's: 0 is no limit
        await call.mailboxes.box_full(call.account_id, box, limit, call.call_id)
        await call.say("The mailbox is full. No message can be left. Goodbye.")
        return None
    await call.answer()
    key = await _greet(call, box)
    if key == "*":  # Kazoo's login: the box's own messages, after its PIN
        await _listen(call, box)
        return None
    if key == "0" and (operator := await call.documents.callflow_for(call.account_id, "0")) is not None:
        return Jump(operator)  # Kazoo's operator: the account's callflow for 0
    await _record(call, box, data)
    return None


async def _greet(call: VoicemailCall, box: Box) -> str:
    """The greeting and the instructions; a key pressed meanwhile stops them and is returned (``*`` login, ``0``
    operator; any other goes on to the beep)."""
    prompts = []
    if not box.get("skip_greeting"):
        media = box.get("media") or {}
        greeting = media.get("temporary_unavailable") or media.get("unavailable")  # Kazoo's: the temporary first
        prompts.append(greeting or f"tts://The person at {_spoken_box(box)} is not available.")
    if not box.get("skip_instructions"):
        prompts.append("tts://Please leave your message after the tone. When you are done, hang up, or press pound.")
    for prompt in prompts:
        key = await call.collect_during(prompt, 1, KEY_AFTER_GREETING, KEY_AFTER_GREETING, terminators="")
        if key:
            return key
    return ""


async def _record(call: VoicemailCall, box: Box, data: VoicemailData) -> None:
    while True:
        await call.play_tone("beep", (), 0.25)
        message_id, path = call.mailboxes.new_message(call.account_id, box["id"])
        recorded = await call.record_caller(
            path,
            max_seconds=float(box.get("max_message_length", 500)),
            silence_seconds=data.silence_seconds,
            stop_keys="#",
        )
        choice = "save"
        if recorded.ended_by == "key":
            try:
                choice = await _review(call, path)
            except CallEndedError:
                choice = "save"  # hung up in the menu: the message stays
        if choice == "save":
            break
        path.unlink(missing_ok=True)
    await _keep(call, box, message_id, path, recorded)


async def _review(call: VoicemailCall, path: Any, what: str = "message") -> str:
    """After ``#``, Kazoo's record review: 1 save, 2 listen, 3 record again (no key: save)."""
    while True:
        key = await _menu(call, f"To save your {what}, press 1. To listen to it, press 2. To record it again, press 3.")
        if key == "2":
            await call.play_file(path)
        elif key == "3":
            return "again"
        else:
            return "save"


async def _keep(call: VoicemailCall, box: Box, message_id: str, path: Any, recorded: Recorded) -> None:
    minimum = float(box.get("min_message_length", 3))
    if recorded.seconds < minimum:
        path.unlink(missing_ok=True)
        log.info(
            "call-id %s: message of %.1f s is shorter than %.0f s, not kept", call.call_id, recorded.seconds, minimum
        )
        if recorded.ended_by != "hangup":
            await call.say("Your message was too short and has not been saved. Goodbye.")
        return
    if box.get("media_extension", "mp3") == "mp3":  # Kazoo's default format for messages
        try:  # a hangup or a stop meanwhile does not abandon the message: the thread finishes it
            path = await asyncio.shield(asyncio.to_thread(wav_to_mp3_file, path))
        except Exception as exc:  # the message is kept as it was recorded
            log.error("call-id %s: message %s kept as WAV: %r", call.call_id, message_id, exc)
    doc = {
        "caller_id_number": call.caller.number,
        "caller_id_name": call.caller.name,
        "timestamp": int(time.time()),
        "length": int(recorded.seconds * 1000),
        "call_id": call.call_id,
        "media_type": CONTENT_TYPES[format_of(path)],
    }
    await call.mailboxes.save_message(call.account_id, box, message_id, doc)
    log.info("call-id %s: voicemail message %s saved in box %s", call.call_id, message_id, box["id"])
    if recorded.ended_by == "hangup":
        raise CallEndedError()
    await call.say("Your message has been saved. Goodbye.")


# ---- listening to messages ------------------------------------------------------------------------


async def _check(call: VoicemailCall, data: VoicemailData) -> None:
    await call.answer()
    box = await call.mailboxes.box(call.account_id, data.id) if data.id else None
    if box is None:
        await call.say("Please enter your mailbox number, followed by pound.")
        box = await call.mailboxes.box_for_mailbox(call.account_id, await call.collect_digits(10, MENU_TIMEOUT))
    if box is None:
        await call.say("Goodbye.")
        return
    await _listen(call, box)


async def _listen(call: VoicemailCall, box: Box) -> None:
    """The box's messages, after its PIN (or none for its owner): Kazoo's main menu."""
    if not (await _is_owner(call, box) or await _pin_accepted(call, box)):
        await call.say("Goodbye.")
        return
    while True:  # Kazoo's main menu: 1 new messages, 2 saved ones, 5 settings, # goodbye
        counts = await call.mailboxes.counts(call.account_id, box["id"])
        key = await _menu(
            call,
            f"You have {_count(counts['new'], 'new message')} and {_count(counts['saved'], 'saved message')}. "
            "To hear new messages, press 1. To hear saved messages, press 2. To change your settings, press 5. "
            "To exit, press pound.",
        )
        if key == "5":
            box = await _settings(call, box)
            continue
        if key not in ("1", "2"):
            await call.say("Goodbye.")
            return
        folder = "new" if key == "1" else "saved"
        messages = [m for m in await call.mailboxes.messages(call.account_id, box["id"]) if m["folder"] == folder]
        await _review_messages(call, box, sorted(messages, key=lambda m: m.get("timestamp", 0), reverse=True))
        await call.say("You have no more messages.")


async def _settings(call: VoicemailCall, box: Box) -> Box:
    """Kazoo's settings menu: 1 unavailable greeting, 2 name, 3 PIN, 4 temporary greeting, 5 delete it, 0 (or no
    key) back to the main menu; three unknown keys in a row go back too. Returns the box as it is now."""
    unknown = 0
    while unknown < MENU_TRIES:
        key = await _menu(
            call,
            "To record your unavailable greeting, press 1. To record your name, press 2. "
            "To change your password, press 3. To record a temporary greeting, press 4. "
            "To delete your temporary greeting, press 5. To return to the main menu, press 0.",
        )
        if key in ("", "0"):
            return box
        unknown = 0
        if key in GREETINGS:
            box = await _record_greeting(call, box, GREETINGS[key])
        elif key == "3":
            box = await _change_pin(call, box)
        elif key == "5":
            box = await call.mailboxes.forget_greeting(call.account_id, box, "temporary_unavailable")
            await call.say("Your temporary greeting has been deleted.")
        else:
            unknown += 1
    return box


async def _record_greeting(call: VoicemailCall, box: Box, what: str) -> Box:
    """Record a greeting or the name after the tone until ``#`` or silence; Kazoo's review; kept on 1."""
    spoken = "your name" if what == "name" else "your greeting"
    while True:
        await call.say(f"Record {spoken} after the tone. When you are done, press pound.")
        await call.play_tone("beep", (), 0.25)
        path = call.mailboxes.draft_path(call.account_id, box["id"])
        try:
            recorded = await call.record_caller(
                path, max_seconds=GREETING_SECONDS, silence_seconds=GREETING_SILENCE, stop_keys="#"
            )
            choice = await _review(call, path, "name" if what == "name" else "greeting")
            if choice == "save" and recorded.seconds > 0:
                box = await call.mailboxes.keep_recorded(call.account_id, box, what, path)
                await call.say("Saved.")
                return box
        finally:
            path.unlink(missing_ok=True)  # kept: it is media now; else (again, a hang-up) a draft no more
        if choice == "save":  # nothing was said
            await call.say("Nothing was recorded.")
            return box


async def _change_pin(call: VoicemailCall, box: Box) -> Box:
    """Kazoo's change_pin: the new PIN twice; 4 to 10 digits and the same both times, else "not valid" (three
    tries). Returns the box as it is now."""
    for _ in range(PIN_TRIES):
        first = await call.collect_during("tts://Enter your new password, followed by pound.", 10, MENU_TIMEOUT, 3.0)
        again = await call.collect_during("tts://Enter it again, followed by pound.", 10, MENU_TIMEOUT, 3.0)
        if first == again and first.isdigit() and MIN_PIN <= len(first) <= MAX_PIN:
            box = await call.mailboxes.set_pin(call.account_id, box, first)
            log.info("call-id %s: the PIN of voicemail box %s was changed by phone", call.call_id, box["id"])
            await call.say("Your password has been changed.")
            return box
        await call.say("That password is not valid.")
    return box


async def _is_owner(call: VoicemailCall, box: Box) -> bool:
    """Kazoo's ``check_if_owner`` (true by default): the box's owner calling from a phone it owns needs no PIN,
    unless the box has ``require_pin``."""
    if box.get("require_pin") is True or box.get("check_if_owner") is False or not box.get("owner_id"):
        return False
    return await call.caller_owner_id() == str(box["owner_id"])


async def _pin_accepted(call: VoicemailCall, box: Box) -> bool:
    pin = str(box.get("pin") or "")
    for _ in range(PIN_TRIES):
        entered = await call.collect_during(
            "tts://Please enter your password, followed by pound.", 10, MENU_TIMEOUT, 3.0
        )
        if entered == pin and pin:
            return True
        await call.say("That password is not correct.")
    log.info("call-id %s: wrong voicemail PIN %d times for box %s", call.call_id, PIN_TRIES, box["id"])
    return False


async def _review_messages(call: VoicemailCall, box: Box, messages: list[dict[str, Any]]) -> None:
    """Each message, newest first, then Kazoo's keys: 1 keep (saved), 2 replay, 4 previous, 6 next, 7 delete;
    no key: the next one."""
    index = 0
    while 0 <= index < len(messages):
        message = messages[index]
        path = await call.mailboxes.message_audio(call.account_id, box["id"], message["id"])
        caller = " ".join(message.get("caller_id_number") or "") or "an unknown caller"
        await call.say(f"Message received {_spoken_time(message.get('timestamp', 0), box)}, from {caller}.")
        if path is not None:
            await call.play_file(path)
        else:
            await call.say("Its recording is not available.")
        key = await _menu(
            call,
            "To keep it, press 1. To replay it, press 2. To forward it, press 3. For the previous message, press 4. "
            "For the next, press 6. To delete it, press 7.",
        )
        if key == "2":
            continue
        if key == "4":
            index = max(0, index - 1)
            continue
        if key == "3":  # Kazoo's: forwarded, then saved
            await _forward(call, box, message)
        if key in ("1", "3"):
            await call.mailboxes.set_folder(call.account_id, box["id"], message["id"], "saved")
            await call.say("Saved.")
        elif key == "7":
            await call.mailboxes.set_folder(call.account_id, box["id"], message["id"], "deleted")
            await call.say("Deleted.")
        index += 1


async def _forward(call: VoicemailCall, box: Box, message: dict[str, Any]) -> None:
    """Kazoo's forward: the number of another box of the account (three tries; not this box); a box that does
    not exist or is full ends it."""
    for _ in range(PIN_TRIES):
        number = await call.collect_during(
            "tts://Enter the mailbox number to forward the message to, followed by pound.", 10, MENU_TIMEOUT, 3.0
        )
        to_box = await call.mailboxes.box_for_mailbox(call.account_id, number) if number else None
        if to_box is None:
            await call.say("That mailbox does not exist. The message was not forwarded.")
            return
        if to_box["id"] == box["id"]:
            await call.say("That is this mailbox.")
            continue
        counts = await call.mailboxes.counts(call.account_id, to_box["id"])
        limit = int(to_box.get("max_message_count", DEFAULT_MAX_MESSAGES))
        if 0 < limit <= counts["new"] + counts["saved"]:
            await call.say("That mailbox is full. The message was not forwarded.")
            return
        await call.mailboxes.forward_message(call.account_id, box, message, to_box)
        await call.say("The message was forwarded.")
        return
    await call.say("The message was not forwarded.")


async def _menu(call: VoicemailCall, prompt: str) -> str:
    """A menu's key: the prompt stops at the first key (or one typed ahead), as Kazoo's prompts do."""
    return await call.collect_during(f"tts://{prompt}", 1, MENU_TIMEOUT, MENU_TIMEOUT)


def _spoken_box(box: Box) -> str:
    mailbox = str(box.get("mailbox") or "")
    return f"extension {' '.join(mailbox)}" if mailbox else str(box.get("name") or "this mailbox")


def _spoken_time(timestamp: float, box: Box) -> str:
    try:
        zone = ZoneInfo(str(box.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(timestamp, zone).strftime("on %A, %B %d, at %I:%M %p")


def _count(n: int, what: str) -> str:
    return f"{'no' if n == 0 else n} {what}{'' if n == 1 else 's'}"


MODULE = register(Module("voicemail", VoicemailData, run))
