"""What callers hear when this app cannot answer at all: TwiML for Twilio's fallback URL.

Twilio requests a number's *Primary handler fails* URL when the webhook errs or times
out. Pointed at a TwiML Bin (hosted by Twilio, so it works while this app is down), this
document tells callers what is happening in every language of the line and puts them
through to a person: the city's general number, else the operators' phones.
"""

from __future__ import annotations

from hotline.config import LineSettings
from hotline.ivr import Flow
from hotline.telephony import Provider
from hotline.voice import texts


def fallback_twiml(provider: Provider, line: LineSettings, flow: Flow) -> str:
    """The TwiML Bin for ``line``: the trouble said, someone rung, or try again later.

    Each language says all it has to say before the next begins (Dutch first on a Dutch
    line): a caller of 80 must not wait through two other languages between sentences.
    """
    spoken = texts.every_voice(flow, None)
    numbers = [line.general_number] if line.general_number else list(line.operator_numbers)
    before = []
    for code, voice in spoken:
        before.append((texts.FALLBACK_TROUBLE[code].format(line=line.name), voice))
        if numbers:
            before.append((texts.FALLBACK_PUT_THROUGH[code], voice))
    closing = texts.FALLBACK_GOODBYE if numbers else texts.FALLBACK_NOBODY
    return provider.standalone(
        before,
        dial=numbers,
        caller_id=line.phone_number,
        after=[(closing[code], voice) for code, voice in spoken],
    )
